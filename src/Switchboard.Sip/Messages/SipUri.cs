using System.Globalization;

namespace Switchboard.Sip.Messages;

/// <summary>A sip: or sips: URI (RFC 3261 §19.1): user, host, port, parameters and headers.</summary>
public sealed class SipUri
{
    /// <summary>"sip" or "sips".</summary>
    public string Scheme { get; set; } = "sip";

    /// <summary>The user part, if any (unescaped as written).</summary>
    public string? User { get; set; }

    /// <summary>The password part, if any (deprecated, kept for round-trip).</summary>
    public string? Password { get; set; }

    /// <summary>The host (IPv6 in brackets).</summary>
    public string Host { get; set; } = "";

    /// <summary>The port, if given.</summary>
    public int? Port { get; set; }

    /// <summary>URI parameters (transport, lr, user …).</summary>
    public Dictionary<string, string?> Parameters { get; private set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>URI headers (after '?'), as written.</summary>
    public string? HeadersPart { get; set; }

    /// <summary>Parses a sip/sips URI; null when it is not one or is malformed.</summary>
    public static SipUri? Parse(string text)
    {
        var s = text.Trim();
        int colon = s.IndexOf(':');
        if (colon <= 0) return null;
        var scheme = s[..colon].ToLowerInvariant();
        if (scheme is not ("sip" or "sips")) return null;
        var uri = new SipUri { Scheme = scheme };
        var rest = s[(colon + 1)..];
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            uri.HeadersPart = rest[(q + 1)..];
            rest = rest[..q];
        }
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userinfo = rest[..at];
            rest = rest[(at + 1)..];
            int pc = userinfo.IndexOf(':');
            uri.User = pc < 0 ? userinfo : userinfo[..pc];
            if (pc >= 0) uri.Password = userinfo[(pc + 1)..];
            if (uri.User.Length == 0) return null;
        }
        int semi = rest.IndexOf(';');
        var hostport = semi < 0 ? rest : rest[..semi];
        if (semi >= 0) uri.Parameters = SipParameters.Parse(rest.AsSpan(semi));
        if (!SipText.TrySplitHostPort(hostport, out var host, out var port)) return null;
        uri.Host = host;
        uri.Port = port;
        return uri;
    }

    /// <summary>The transport parameter, upper case, or null.</summary>
    public string? Transport => Parameters.GetValueOrDefault("transport")?.ToUpperInvariant();

    /// <inheritdoc />
    public override string ToString()
    {
        var user = User is null ? "" : (Password is null ? User : $"{User}:{Password}") + "@";
        var headers = HeadersPart is null ? "" : "?" + HeadersPart;
        return $"{Scheme}:{user}{SipText.FormatHostPort(Host, Port)}{SipParameters.Format(Parameters)}{headers}";
    }

    /// <summary>A copy.</summary>
    public SipUri Clone() => Parse(ToString())!;

    /// <summary>The port to use: the given one or the scheme default.</summary>
    public int PortOrDefault => Port ?? (Scheme == "sips" ? 5061 : 5060);

    /// <summary>Formats an int for URIs.</summary>
    internal static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A name-addr or addr-spec header value (From, To, Contact, Route …): display name, URI, header parameters.</summary>
public sealed class NameAddress
{
    /// <summary>The display name, unquoted, if any.</summary>
    public string? DisplayName { get; set; }

    /// <summary>The URI as text (any scheme).</summary>
    public string Uri { get; set; } = "";

    /// <summary>A name-addr without parameters.</summary>
    public NameAddress() : this(new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase))
    {
    }

    private NameAddress(Dictionary<string, string?> parameters) => Parameters = parameters;

    /// <summary>Header parameters after the URI (tag, expires, q …).</summary>
    public Dictionary<string, string?> Parameters { get; }

    /// <summary>True for the Contact value "*".</summary>
    public bool IsWildcard { get; private set; }

    /// <summary>The tag parameter.</summary>
    public string? Tag => Parameters.GetValueOrDefault("tag");

    /// <summary>The URI parsed as sip/sips, or null.</summary>
    public SipUri? SipUri => Messages.SipUri.Parse(Uri);

    /// <summary>
    /// Parses <c>"Name" &lt;uri&gt;;params</c>, <c>Name &lt;uri&gt;</c> or <c>uri;params</c> (in an addr-spec the
    /// parameters after ';' belong to the header, RFC 3261 §20). Returns an empty URI when malformed.
    /// </summary>
    public static NameAddress Parse(string value)
    {
        var s = value.Trim();
        if (s == "*") return new NameAddress { IsWildcard = true };
        int lt = IndexOfOutsideQuotes(s, '<');
        if (lt >= 0)
        {
            int gt = s.IndexOf('>', lt);
            if (gt < 0) return new NameAddress();
            var display = s.AsSpan(0, lt).Trim();
            var named = new NameAddress(SipParameters.Parse(s.AsSpan(gt + 1)))
            {
                Uri = s.AsSpan((lt + 1)..gt).Trim().ToString(),
            };
            if (display.Length > 0) named.DisplayName = SipText.Unquote(display.ToString());
            return named;
        }
        int semi = s.IndexOf(';');
        if (semi < 0) return new NameAddress { Uri = s };
        return new NameAddress(SipParameters.Parse(s.AsSpan(semi))) { Uri = s[..semi] };
    }

    /// <summary>Writes the value in name-addr form.</summary>
    public override string ToString()
    {
        if (IsWildcard) return "*";
        var display = DisplayName is null ? "" : "\"" + DisplayName.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\" ";
        return $"{display}<{Uri}>{SipParameters.Format(Parameters)}";
    }

    private static int IndexOfOutsideQuotes(string s, char c)
    {
        bool quoted = false;
        for (int i = 0; i < s.Length; i++)
        {
            if (quoted)
            {
                if (s[i] == '\\') i++;
                else if (s[i] == '"') quoted = false;
            }
            else if (s[i] == '"') quoted = true;
            else if (s[i] == c) return i;
        }
        return -1;
    }
}
