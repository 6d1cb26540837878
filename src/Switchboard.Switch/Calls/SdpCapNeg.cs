using System.Globalization;
using System.Text;
using Switchboard.Media.Srtp;

namespace Switchboard.Switch.Calls;

/// <summary>
/// SDP capability negotiation (RFC 5939) as far as SRTP needs it. A phone that wants SRTP when the answerer can do it
/// and plain RTP otherwise (liblinphone with capability negotiation on) offers an RTP/AVP stream with a potential
/// configuration "transport RTP/SAVP, attribute crypto:…" (a=tcap, a=acap, a=pcfg). The switch as answerer takes the
/// most preferred such configuration with a key it can use and answers it in RTP/SAVP, naming it with a=acfg (§3.6.2).
/// Everything else in a potential configuration (other attributes, delete options, extensions) makes the switch
/// pass it over, as §3.6.2 lets an answerer that does not support it.
/// </summary>
internal static class SdpCapNeg
{
    /// <summary>Capability and configuration lines read from one description; more are ignored (no phone sends that many).</summary>
    public const int MaxLines = 32;

    /// <summary>
    /// The key and the a=acfg value of the most preferred potential RTP/SAVP configuration of the first audio stream
    /// (session-level capabilities included) with a usable SDES key; null when there is none.
    /// </summary>
    public static (SdesCrypto Key, string Acfg)? PotentialSrtp(byte[] sdp)
    {
        var transports = new Dictionary<int, string>();
        var attributes = new Dictionary<int, string>();
        var configurations = new List<(int Number, string? Transports, string? Attributes, bool Unsupported)>();
        int lines = 0;
        bool inAudio = false, passedAudio = false;
        foreach (var raw in Encoding.ASCII.GetString(sdp).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                if (passedAudio) break;
                inAudio = line.StartsWith("m=audio ", StringComparison.Ordinal);
                passedAudio |= inAudio;
                continue;
            }
            bool sessionLevel = !passedAudio;
            if (!(sessionLevel || inAudio) || !line.StartsWith("a=", StringComparison.Ordinal)) continue;
            if (line.StartsWith("a=tcap:", StringComparison.Ordinal) && ++lines <= MaxLines)
            {
                if (!TryNumbered(line.AsSpan(7), out var first, out var rest)) continue;
                foreach (var proto in rest.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries)) transports.TryAdd(first++, proto);
            }
            else if (line.StartsWith("a=acap:", StringComparison.Ordinal) && ++lines <= MaxLines)
            {
                if (TryNumbered(line.AsSpan(7), out var number, out var rest)) attributes.TryAdd(number, rest.ToString());
            }
            else if (inAudio && line.StartsWith("a=pcfg:", StringComparison.Ordinal) && ++lines <= MaxLines)
            {
                if (!TryNumbered(line.AsSpan(7), out var number, out var rest)) continue;
                string? t = null, a = null;
                bool unsupported = false;
                foreach (var part in rest.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (part.StartsWith("t=", StringComparison.Ordinal)) t = part[2..];
                    else if (part.StartsWith("a=", StringComparison.Ordinal)) a = part[2..];
                    else unsupported = true; // extension configurations (x=…) and media configurations (RFC 6871)
                }
                configurations.Add((number, t, a, unsupported));
            }
        }

        // A lower configuration number is more preferred (§3.5.1).
        foreach (var (number, t, a, unsupported) in configurations.OrderBy(c => c.Number))
        {
            if (unsupported || t is null || a is null || a.StartsWith('-')) continue;
            var transport = t.Split('|').Select(ParseNumber).FirstOrDefault(n => n is { } x && transports.GetValueOrDefault(x) == "RTP/SAVP");
            if (transport is null) continue;
            foreach (var alternative in a.Split('|'))
            {
                if (Usable(alternative, attributes) is { } chosen)
                    return (chosen.Key, string.Create(CultureInfo.InvariantCulture, $"{number} t={transport} a={chosen.Used}"));
            }
        }
        return null;
    }

    /// <summary>An attribute alternative ("1", "1,2", "[1],2") whose mandatory capabilities are all crypto and one of whose keys the engine speaks.</summary>
    private static (SdesCrypto Key, string Used)? Usable(string alternative, Dictionary<int, string> attributes)
    {
        SdesCrypto? key = null;
        var used = new List<int>();
        foreach (var item in alternative.Split(','))
        {
            bool optional = item.StartsWith('[') && item.EndsWith(']');
            if (ParseNumber(optional ? item[1..^1] : item) is not { } n || !attributes.TryGetValue(n, out var attribute)) return null;
            bool crypto = attribute.StartsWith("crypto:", StringComparison.OrdinalIgnoreCase);
            if (!crypto)
            {
                if (optional) continue;
                return null; // a mandatory attribute the switch would have to take blind
            }
            if (!optional) used.Add(n);
            if (key is null && SdesCrypto.TryParse(attribute.AsSpan(7), out var k) == SdesRejection.None && k is not null)
            {
                key = k;
                if (optional) used.Add(n);
            }
        }
        return key is null ? null : (key, string.Join(',', used));
    }

    private static int? ParseNumber(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1_000_000 ? n : null;

    /// <summary>"1 RTP/SAVP" → 1 and "RTP/SAVP".</summary>
    private static bool TryNumbered(ReadOnlySpan<char> value, out int number, out ReadOnlySpan<char> rest)
    {
        rest = default;
        int space = value.IndexOf(' ');
        number = 0;
        if (space <= 0 || ParseNumber(value[..space].ToString()) is not { } n) return false;
        number = n;
        rest = value[(space + 1)..].Trim();
        return rest.Length > 0;
    }
}
