using System.Text;
using Switchboard.Media.Srtp;

namespace Switchboard.Switch.Calls;

/// <summary>
/// The SRTP part of an SDP audio stream (RFC 4568 SDES, RFC 3711 §3.1): the transport profile of the first m=audio
/// line and its a=crypto attributes. Codec lines are left as they are; these methods only edit the profile and the
/// crypto attributes of a description that <see cref="SdpText"/> made or a phone sent.
/// </summary>
internal static class SdpCrypto
{
    /// <summary>Crypto attributes read from one stream; an offer with more is refused whole.</summary>
    public const int MaxAttributes = 16;

    /// <summary>The first audio stream's profile is RTP/SAVP (or SAVPF): the sender requires SRTP.</summary>
    public static bool IsSecureProfile(byte[] sdp)
    {
        foreach (var (line, inAudio) in AudioLines(sdp))
            if (inAudio && line.StartsWith("m=", StringComparison.Ordinal)) return ProfileOf(line) is "RTP/SAVP" or "RTP/SAVPF";
        return false;
    }

    /// <summary>True when the first audio stream carries any a=crypto attribute (a key in the body).</summary>
    public static bool HasCrypto(byte[] sdp) => AudioLines(sdp).Any(l => l.InAudio && l.Line.StartsWith("a=crypto:", StringComparison.Ordinal));

    /// <summary>
    /// The usable crypto attributes of the first audio stream, in the sender's order of preference, and the reason for
    /// the first declined one (None when all were usable).
    /// </summary>
    public static List<SdesCrypto> CryptoOf(byte[] sdp, out SdesRejection firstDeclined)
    {
        firstDeclined = SdesRejection.None;
        var found = new List<SdesCrypto>();
        int seen = 0;
        foreach (var (line, inAudio) in AudioLines(sdp))
        {
            if (!inAudio || !line.StartsWith("a=crypto:", StringComparison.Ordinal)) continue;
            if (++seen > MaxAttributes)
            {
                firstDeclined = SdesRejection.Malformed;
                return [];
            }
            var why = SdesCrypto.TryParse(line.AsSpan(9), out var crypto);
            if (crypto is not null) found.Add(crypto);
            else if (firstDeclined == SdesRejection.None) firstDeclined = why;
        }
        return found;
    }

    /// <summary>
    /// The description with its first audio stream keyed by <paramref name="key"/> alone: other crypto attributes
    /// removed, the profile RTP/SAVP when <paramref name="secureProfile"/>, else RTP/AVP (best-effort SRTP as phones
    /// with an "optional" setting offer it). <paramref name="acfg"/> names the RFC 5939 potential configuration the
    /// answer takes (a=acfg), when it takes one.
    /// </summary>
    public static byte[] WithCrypto(byte[] sdp, SdesCrypto key, bool secureProfile, string? acfg = null) =>
        Rewrite(sdp, key, secureProfile ? "RTP/SAVP" : "RTP/AVP", acfg: acfg);

    /// <summary>
    /// A best-effort offer (RTP/AVP with <paramref name="key"/>, as <see cref="WithCrypto"/>) that also offers RTP/SAVP
    /// with the same key as an RFC 5939 potential configuration (a=tcap:1 RTP/SAVP, a=acap:1 crypto:…, a=pcfg:1 t=1
    /// a=1): a phone that speaks capability negotiation and takes only RTP/SAVP answers that; any other ignores it.
    /// </summary>
    public static byte[] WithCryptoAndCapability(byte[] sdp, SdesCrypto key) =>
        Rewrite(sdp, key, "RTP/AVP", capability: true);

    /// <summary>
    /// The description without keys, for signalling that is not TLS: every a=crypto attribute of every stream and every
    /// RFC 5939 attribute capability that holds one (a=acap:N crypto:…, at session or media level) removed, the first
    /// audio stream's profile RTP/AVP. A potential configuration left naming a removed capability is invalid and
    /// ignored by its receiver (RFC 5939 §3.5.1).
    /// </summary>
    public static byte[] WithoutCrypto(byte[] sdp) => Rewrite(sdp, null, "RTP/AVP", everywhere: true);

    /// <summary>True when the description carries a key anywhere: an a=crypto attribute or an a=acap crypto capability.</summary>
    public static bool HasAnyKey(byte[] sdp) =>
        // The byte search first: reading the description into lines costs allocations, for every SDP sent to a phone.
        (sdp.AsSpan().IndexOf("a=crypto:"u8) >= 0 || sdp.AsSpan().IndexOf("a=acap:"u8) >= 0) && AudioLines(sdp).Any(l => IsKeyLine(l.Line));

    /// <summary>a=crypto:…, or a=acap:&lt;number&gt; crypto:… (an SDES key offered as a capability, RFC 5939 §3.4.1).</summary>
    private static bool IsKeyLine(string line)
    {
        if (line.StartsWith("a=crypto:", StringComparison.Ordinal)) return true;
        if (!line.StartsWith("a=acap:", StringComparison.Ordinal)) return false;
        var rest = line.AsSpan(7);
        int digits = 0;
        while (digits < rest.Length && char.IsAsciiDigit(rest[digits])) digits++;
        if (digits == 0) return false;
        rest = rest[digits..].TrimStart(' ');
        return rest.StartsWith("crypto:", StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] Rewrite(byte[] sdp, SdesCrypto? key, string profile, bool everywhere = false, string? acfg = null, bool capability = false)
    {
        var sb = new StringBuilder(sdp.Length + 80);
        bool done = false;
        foreach (var (line, inAudio) in AudioLines(sdp))
        {
            if (inAudio && line.StartsWith("a=crypto:", StringComparison.Ordinal)) continue;
            if (everywhere && IsKeyLine(line)) continue;
            if (inAudio && !done && line.StartsWith("m=", StringComparison.Ordinal))
            {
                var f = line.Split(' ');
                if (f.Length >= 3) f[2] = profile;
                sb.Append(string.Join(' ', f)).Append("\r\n");
                if (key is not null) sb.Append("a=crypto:").Append(key.ToString()).Append("\r\n");
                if (acfg is not null) sb.Append("a=acfg:").Append(acfg).Append("\r\n");
                if (capability && key is not null)
                    sb.Append("a=tcap:1 RTP/SAVP\r\na=acap:1 crypto:").Append(key.ToString()).Append("\r\na=pcfg:1 t=1 a=1\r\n");
                done = true;
                continue;
            }
            sb.Append(line).Append("\r\n");
        }
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static string? ProfileOf(string mLine)
    {
        var f = mLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return f.Length >= 3 ? f[2] : null;
    }

    /// <summary>Each line with whether it belongs to the first audio stream (its m= line included).</summary>
    private static IEnumerable<(string Line, bool InAudio)> AudioLines(byte[] sdp)
    {
        bool inAudio = false, passed = false;
        foreach (var raw in Encoding.ASCII.GetString(sdp).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                inAudio = !passed && line.StartsWith("m=audio ", StringComparison.Ordinal);
                passed |= inAudio;
            }
            yield return (line, inAudio);
        }
    }
}
