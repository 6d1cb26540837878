using System.Text;

namespace Switchboard.Switch.Calls;

/// <summary>
/// The few SDP edits a signalling-only B2BUA needs (RFC 4566, RFC 3264): set the media direction for hold and
/// resume, and keep one origin line per dialog so a phone sees a re-offer as a new version of the same session.
/// SDP bodies are small and these edits run once per offer, so line-wise text handling is clear and cheap enough.
/// </summary>
internal static class SdpText
{
    private static readonly string[] Directions = ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"];

    /// <summary>The SDP with every direction attribute replaced by one <paramref name="direction"/> attribute ("sendonly" …).</summary>
    public static byte[] WithDirection(byte[] sdp, string direction)
    {
        if (sdp.Length == 0) return sdp;
        var lines = Lines(sdp).Where(l => !Directions.Contains(l)).ToList();
        lines.Add("a=" + direction);
        return Join(lines);
    }

    /// <summary>The direction attribute of the SDP, "sendrecv" when none is given (RFC 4566 §6).</summary>
    public static string DirectionOf(byte[] sdp)
    {
        foreach (var l in Lines(sdp))
            if (Directions.Contains(l)) return l[2..];
        return "sendrecv";
    }

    /// <summary>
    /// The SDP with its o= line replaced: the first SDP a leg is sent fixes the origin (user, session id, address);
    /// later ones carry the same origin with the version counted up, as RFC 3264 §8 asks of a re-offer.
    /// </summary>
    public static byte[] WithOrigin(byte[] sdp, ref string? origin, ref long version, ref string? lastRest)
    {
        if (sdp.Length == 0) return sdp;
        var lines = Lines(sdp);
        int at = lines.FindIndex(l => l.StartsWith("o=", StringComparison.Ordinal));
        if (at < 0) return sdp;
        var rest = string.Join("\n", lines.Where((_, i) => i != at));
        if (origin is null)
        {
            // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
            var f = lines[at][2..].Split(' ');
            if (f.Length < 6 || !long.TryParse(f[2], out version)) return sdp;
            origin = $"{f[0]} {f[1]} {{0}} {f[3]} {f[4]} {f[5]}";
            lastRest = rest;
            return sdp;
        }
        // An unchanged description keeps its version, so the phone does not see a change where there is none.
        if (rest != lastRest) version++;
        lastRest = rest;
        lines[at] = "o=" + string.Format(System.Globalization.CultureInfo.InvariantCulture, origin, version);
        return Join(lines);
    }

    private static List<string> Lines(byte[] sdp)
    {
        var lines = Encoding.ASCII.GetString(sdp).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static byte[] Join(List<string> lines) => Encoding.ASCII.GetBytes(string.Join("\r\n", lines) + "\r\n");
}
