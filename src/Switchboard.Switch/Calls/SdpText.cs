using System.Globalization;
using System.Net;
using System.Text;
using Switchboard.Media.Codecs;

namespace Switchboard.Switch.Calls;

/// <summary>
/// The few SDP edits a signalling-only B2BUA needs (RFC 4566, RFC 3264): set the media direction for hold and
/// resume, and keep one origin line per dialog so a phone sees a re-offer as a new version of the same session.
/// SDP bodies are small and these edits run once per offer, so line-wise text handling is clear and cheap enough.
/// </summary>
internal static partial class SdpText
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

    /// <summary>Where a phone wants its audio and in which of the engine's codecs (see the overload); null when in none.</summary>
    public static (IPAddress Address, int Port, AudioCodec Codec, int DtmfPayloadType, int PayloadType, int DtmfClockRate)? AudioOf(byte[] sdp) => AudioOf(sdp, null);

    /// <summary>An offer of the switch's own media endpoint: the codecs (default: Opus, G.722, PCMU, PCMA) and telephone-event, 20 ms packets.</summary>
    public static byte[] Offer(string address, int port, IReadOnlyList<AudioCodec>? codecs = null)
    {
        var family = address.Contains(':', StringComparison.Ordinal) ? "IP6" : "IP4";
        var id = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return Encoding.ASCII.GetBytes($"v=0\r\no=switchboard {id} 1 IN {family} {address}\r\ns=switchboard\r\nc=IN {family} {address}\r\nt=0 0\r\n" +
            OfferMediaLines(port, codecs ?? AudioCodecs.DefaultOrder) + "a=sendrecv\r\n");
    }

    /// <summary>
    /// An answer of the switch's own media endpoint with one codec (on the offer's payload type; the codec's default
    /// when not given) and, when given, one telephone-event type at the clock the offer named for it (the codec's by default).
    /// </summary>
    public static byte[] Answer(string address, int port, AudioCodec codec, int? telephoneEvent, int? payloadType = null, int? telephoneEventClockRate = null)
    {
        var family = address.Contains(':', StringComparison.Ordinal) ? "IP6" : "IP4";
        var id = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder(256);
        sb.Append("v=0\r\no=switchboard ").Append(id).Append(" 1 IN ").Append(family).Append(' ').Append(address).Append("\r\ns=switchboard\r\nc=IN ")
            .Append(family).Append(' ').Append(address).Append("\r\nt=0 0\r\n");
        sb.Append(AnswerMediaLines(port, codec, payloadType ?? AudioCodecs.DefaultPayloadType(codec), telephoneEvent, telephoneEventClockRate));
        sb.Append("a=sendrecv\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>True when the description maps a telephone-event payload type (RFC 4733).</summary>
    public static bool OffersTelephoneEvent(byte[] sdp) =>
        Lines(sdp).Any(l => l.StartsWith("a=rtpmap:", StringComparison.Ordinal) && l.Contains("telephone-event", StringComparison.OrdinalIgnoreCase));

    private static List<string> Lines(byte[] sdp)
    {
        var lines = Encoding.ASCII.GetString(sdp).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static byte[] Join(List<string> lines) => Encoding.ASCII.GetBytes(string.Join("\r\n", lines) + "\r\n");
}
