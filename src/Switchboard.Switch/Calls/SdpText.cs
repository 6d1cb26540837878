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
        // Every SDP the switch sends passes here: worked on the bytes, with a description in CRLF lines (what the
        // switch writes, and phones send) taken as it is; anything else is brought into that form first.
        var text = IsCrLfLines(sdp) ? sdp : Join(Lines(sdp));
        int start = text.AsSpan().StartsWith("o="u8) ? 0 : text.AsSpan().IndexOf("\r\no="u8) is var i and >= 0 ? i + 2 : -1;
        if (start < 0) return sdp;
        int end = start + text.AsSpan(start).IndexOf("\r\n"u8);
        var before = text.AsSpan(0, start);
        var after = text.AsSpan(end + 2);
        if (origin is null)
        {
            // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
            var f = Encoding.ASCII.GetString(text, start + 2, end - start - 2).Split(' ');
            if (f.Length < 6 || !long.TryParse(f[2], out version)) return sdp;
            origin = $"{f[0]} {f[1]} {{0}} {f[3]} {f[4]} {f[5]}";
            lastRest = Rest(text, start, end);
            return sdp;
        }
        // An unchanged description keeps its version, so the phone does not see a change where there is none.
        if (!SameRest(lastRest, before, after))
        {
            version++;
            lastRest = Rest(text, start, end);
        }
        var line = "o=" + string.Format(CultureInfo.InvariantCulture, origin, version) + "\r\n";
        var result = new byte[before.Length + line.Length + after.Length];
        before.CopyTo(result);
        int written = Encoding.ASCII.GetBytes(line, result.AsSpan(before.Length));
        after.CopyTo(result.AsSpan(before.Length + written));
        return result;
    }

    /// <summary>True when every line ends in CRLF, the last one too, and no empty lines trail.</summary>
    private static bool IsCrLfLines(ReadOnlySpan<byte> sdp)
    {
        if (!sdp.EndsWith("\r\n"u8) || sdp.EndsWith("\r\n\r\n"u8) || sdp.Length == 2) return false;
        int i;
        while ((i = sdp.IndexOf((byte)'\n')) >= 0)
        {
            if (i == 0 || sdp[i - 1] != '\r') return false;
            sdp = sdp[(i + 1)..];
        }
        return true;
    }

    /// <summary>The description without its o= line, as text (ASCII; other bytes kept one char each).</summary>
    private static string Rest(byte[] text, int start, int end) =>
        string.Create(text.Length - (end + 2 - start), (text, start, end), static (chars, s) =>
        {
            Encoding.Latin1.GetChars(s.text.AsSpan(0, s.start), chars);
            Encoding.Latin1.GetChars(s.text.AsSpan(s.end + 2), chars[s.start..]);
        });

    private static bool SameRest(string? rest, ReadOnlySpan<byte> before, ReadOnlySpan<byte> after)
    {
        if (rest is null || rest.Length != before.Length + after.Length) return false;
        for (int i = 0; i < before.Length; i++) if (rest[i] != before[i]) return false;
        for (int i = 0; i < after.Length; i++) if (rest[before.Length + i] != after[i]) return false;
        return true;
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
