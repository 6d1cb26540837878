using System.Net;
using System.Net.Sockets;
using Switchboard.Sip.Transport;
using Switchboard.Telephony;

namespace Switchboard.Switch.Trunks;

/// <summary>A trunk with its resolved upstream address.</summary>
public sealed class Trunk(TrunkOptions options, SipEndPoint upstream)
{
    /// <summary>The configuration.</summary>
    public TrunkOptions Options { get; } = options;

    /// <summary>Where requests to the trunk go.</summary>
    public SipEndPoint Upstream { get; } = upstream;

    /// <summary>The name.</summary>
    public string Name => Options.Name;

    /// <summary>The SIP domain used towards the upstream.</summary>
    public string Domain => Options.Domain.Length > 0 ? Options.Domain : Options.Host;

    /// <summary>The digest user.</summary>
    public string AuthUser => Options.AuthUsername.Length > 0 ? Options.AuthUsername : Options.Username;

    /// <summary>The Request-URI and To of a call to a number (already in the trunk's format).</summary>
    public string UriFor(string user) =>
        $"sip:{user}@{Domain}{(Upstream.Address.Port == (Upstream.Protocol == SipProtocol.Tls ? 5061 : 5060) ? "" : ":" + Upstream.Address.Port)}" +
        Upstream.Protocol switch { SipProtocol.Tcp => ";transport=tcp", SipProtocol.Tls => ";transport=tls", _ => "" };
}

/// <summary>An outside call's way out: the trunk, the number in +E.164, and as the trunk wants it written.</summary>
public readonly record struct TrunkRoute(Trunk Trunk, string E164, string Dialled);

/// <summary>
/// Routes outside numbers to trunks by longest +E.164 prefix, converts numbers between +E.164, 00… and national
/// formats, and recognises calls from trunks by source address and maps their DIDs to extensions.
/// </summary>
public sealed class TrunkRouter
{
    private readonly List<Trunk> _trunks;

    /// <summary>Resolves the trunks' hosts (a name that does not resolve stops start-up with a clear message).</summary>
    public TrunkRouter(IEnumerable<TrunkOptions> trunks, string outsideLinePrefix = "")
    {
        OutsideLinePrefix = outsideLinePrefix;
        _trunks = [.. trunks.Select(t => new Trunk(t, Resolve(t)))];
    }

    /// <summary>The configured trunks.</summary>
    public IReadOnlyList<Trunk> Trunks => _trunks;

    /// <summary>Digits a phone dials before an outside number without '+' (empty: none).</summary>
    public string OutsideLinePrefix { get; }

    private static readonly List<string> AllNumbers = ["+"];

    private static SipEndPoint Resolve(TrunkOptions t)
    {
        if (t.Host.Length == 0) throw new InvalidOperationException($"Trunk '{t.Name}': Host is empty");
        var protocol = t.Transport.ToLowerInvariant() switch
        {
            "udp" => SipProtocol.Udp,
            "tcp" => SipProtocol.Tcp,
            "tls" => SipProtocol.Tls,
            _ => throw new InvalidOperationException($"Trunk '{t.Name}': Transport '{t.Transport}' is not supported (udp, tcp or tls)"),
        };
        if (!IPAddress.TryParse(t.Host, out var ip))
        {
            ip = Dns.GetHostAddresses(t.Host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new InvalidOperationException($"Trunk '{t.Name}': host {t.Host} has no IPv4 address");
        }
        return new SipEndPoint(protocol, new IPEndPoint(ip, t.Port));
    }

    /// <summary>
    /// The route of a dialled outside number, or null with the reason when no trunk takes it. The number is normalised
    /// here as well (<see cref="DialString"/>: separators and %-escapes removed), so whatever a phone, a REFER or a
    /// forwarding put in, the trunk and the toll-fraud policy only ever see digits with an optional '+'.
    /// </summary>
    public TrunkRoute? Route(string dialled, out string reason)
    {
        reason = "";
        if (_trunks.Count == 0)
        {
            reason = "no trunk for outside numbers is configured";
            return null;
        }
        if (!DialString.TryNormalizeOutsideNumber(dialled, out var number, out var error))
        {
            reason = $"not a dialable outside number ({error})";
            return null;
        }
        if (!number.StartsWith('+') && OutsideLinePrefix.Length > 0)
        {
            if (!number.StartsWith(OutsideLinePrefix, StringComparison.Ordinal))
            {
                reason = $"dial {OutsideLinePrefix} for an outside line";
                return null;
            }
            number = number[OutsideLinePrefix.Length..];
        }
        Trunk? best = null;
        string bestE164 = "";
        int bestLength = -1;
        foreach (var t in _trunks)
        {
            var e164 = ToE164(number, t.Options.CountryCode, t.Options.AreaCode);
            foreach (var p in t.Options.Prefixes.Count > 0 ? t.Options.Prefixes : AllNumbers)
            {
                if (p.Length > bestLength && e164.StartsWith(p, StringComparison.Ordinal))
                {
                    best = t;
                    bestE164 = e164;
                    bestLength = p.Length;
                }
            }
        }
        if (best is null)
        {
            reason = $"no trunk routes {number}";
            return null;
        }
        return new TrunkRoute(best, bestE164, Format(bestE164, best.Options.NumberFormat, best.Options.CountryCode));
    }

    /// <summary>
    /// +E.164 from what was dialled: "+…" stays, "00…" becomes "+…", "0…" gets the country code, and a number without a
    /// trunk zero gets country and area code when an area code is known (else it is left as dialled).
    /// </summary>
    public static string ToE164(string number, string countryCode, string areaCode = "")
    {
        if (number.StartsWith('+')) return number;
        if (number.StartsWith("00", StringComparison.Ordinal)) return "+" + number[2..];
        if (number.StartsWith('0')) return "+" + countryCode + number[1..];
        return areaCode.Length > 0 ? "+" + countryCode + areaCode + number : number;
    }

    /// <summary>Writes a +E.164 number in a trunk's format; numbers that are not +E.164 are left alone.</summary>
    public static string Format(string e164, TrunkNumberFormat format, string countryCode)
    {
        if (!e164.StartsWith('+')) return e164;
        return format switch
        {
            TrunkNumberFormat.International => "00" + e164[1..],
            TrunkNumberFormat.National => e164.AsSpan(1).StartsWith(countryCode, StringComparison.Ordinal)
                ? "0" + e164[(1 + countryCode.Length)..]
                : "00" + e164[1..],
            _ => e164,
        };
    }

    /// <summary>
    /// The trunk an INVITE from this source belongs to: the upstream's address and port, or one of its
    /// InboundSources; null for anybody else (who then has to authenticate like a phone).
    /// </summary>
    public Trunk? FromSource(SipEndPoint source)
    {
        var ip = source.Address.Address.IsIPv4MappedToIPv6 ? source.Address.Address.MapToIPv4() : source.Address.Address;
        foreach (var t in _trunks)
        {
            if (t.Upstream.Address.Address.Equals(ip) && t.Upstream.Address.Port == source.Address.Port) return t;
            foreach (var s in t.Options.InboundSources)
            {
                if (IPEndPoint.TryParse(s, out var ep) && ep.Address.Equals(ip) && (ep.Port == 0 || ep.Port == source.Address.Port)) return t;
            }
        }
        return null;
    }

    /// <summary>
    /// The extension a number called on the trunk rings, or null. Numbers are compared as +E.164, so a DID configured
    /// as "+4989555100" matches calls to "+4989555100", "004989555100", "089555100" and "4989555100".
    /// </summary>
    public static string? Did(Trunk trunk, string called)
    {
        var o = trunk.Options;
        if (o.Dids.TryGetValue(called, out var direct)) return direct;
        var e164 = ToE164(called, o.CountryCode);
        // Some upstreams send E.164 without the '+'.
        var withPlus = !called.StartsWith('+') && !called.StartsWith('0') && called.StartsWith(o.CountryCode, StringComparison.Ordinal) ? "+" + called : null;
        foreach (var (did, extension) in o.Dids)
        {
            var d = ToE164(did, o.CountryCode);
            if (d == e164 || d == withPlus) return extension;
        }
        return null;
    }

    /// <summary>The caller ID an extension presents on a trunk: its own DID if it has one, else the trunk's CallerId or account.</summary>
    public static string CallerIdOf(Trunk trunk, string extension)
    {
        var o = trunk.Options;
        var own = o.Dids.FirstOrDefault(kv => kv.Value == extension).Key;
        var id = own ?? (o.CallerId.Length > 0 ? o.CallerId : o.Username);
        return id.Length > 0 && id.All(c => c is '+' or (>= '0' and <= '9'))
            ? Format(ToE164(id, o.CountryCode), o.NumberFormat, o.CountryCode)
            : id;
    }

    /// <summary>What a caller that is not a number is shown as.</summary>
    public const string UnknownCaller = "unknown";

    /// <summary>
    /// A caller's number from a trunk as +E.164, so events and the journal show one format. Only a number gets in:
    /// digits with an optional leading '+' after normalisation; anything else (a name, markup, control characters) is
    /// <see cref="UnknownCaller"/>, because this text travels to events, the journal and the dashboard. No user at all,
    /// or the RFC 3323 "anonymous", is "anonymous".
    /// </summary>
    public static string CallerNumber(Trunk trunk, string? user)
    {
        if (string.IsNullOrEmpty(user) || user.Equals("anonymous", StringComparison.OrdinalIgnoreCase)) return "anonymous";
        if (!DialString.TryNormalizeOutsideNumber(user, out var number, out _)) return UnknownCaller;
        return ToE164(number, trunk.Options.CountryCode);
    }

    /// <summary>Longest display name passed on (characters).</summary>
    public const int MaxDisplayNameLength = 64;

    /// <summary>
    /// A display name from the network as it may be passed on to a phone: at most <see cref="MaxDisplayNameLength"/>
    /// characters and no control characters (C0, DEL, C1, Unicode format characters such as bidi overrides, line separators); otherwise
    /// <paramref name="fallback"/> (the caller's number), so a hostile name never reaches another phone or a log.
    /// </summary>
    public static string DisplayName(string? display, string fallback)
    {
        if (string.IsNullOrWhiteSpace(display) || display.Length > MaxDisplayNameLength) return fallback;
        foreach (var c in display)
        {
            if (char.IsControl(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator)
                return fallback;
        }
        return display;
    }
}
