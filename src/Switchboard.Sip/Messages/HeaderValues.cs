using System.Globalization;

namespace Switchboard.Sip.Messages;

/// <summary>A CSeq: sequence number and method.</summary>
public readonly record struct CSeq(uint Number, string Method)
{
    /// <summary>Parses "314159 INVITE"; an unparsable value gives number 0 and an empty method.</summary>
    public static CSeq Parse(string value)
    {
        var s = value.AsSpan().Trim();
        int sp = s.IndexOfAny(' ', '\t');
        if (sp <= 0 || !uint.TryParse(s[..sp], NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return new CSeq(0, "");
        return new CSeq(n, s[sp..].Trim().ToString());
    }

    /// <summary>True when both parts parsed.</summary>
    public bool IsValid => Method.Length > 0;

    /// <inheritdoc />
    public override string ToString() => $"{Number.ToString(CultureInfo.InvariantCulture)} {Method}";
}

/// <summary>Parameter lists (<c>;name=value;flag</c>) as they appear in URIs and header values.</summary>
public static class SipParameters
{
    /// <summary>Parses <c>;a=b;c</c> (leading ';' optional) into name → value (null for flags); names case-insensitive.</summary>
    public static Dictionary<string, string?> Parse(ReadOnlySpan<char> text)
    {
        // Straight from the span: only names and values become strings (every Via, From and To is parsed this way).
        var d = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            int end = SipText.IndexOfOutsideQuotes(text, ';');
            var p = (end < 0 ? text : text[..end]).Trim();
            if (p.Length > 0)
            {
                int eq = p.IndexOf('=');
                if (eq < 0) d[p.ToString()] = null;
                else d[p[..eq].Trim().ToString()] = p[(eq + 1)..].Trim().ToString();
            }
            if (end < 0) return d;
            text = text[(end + 1)..];
        }
    }

    /// <summary>Writes parameters back as <c>;a=b;c</c>.</summary>
    public static string Format(IEnumerable<KeyValuePair<string, string?>> parameters) =>
        string.Concat(parameters.Select(p => p.Value is null ? ";" + p.Key : $";{p.Key}={p.Value}"));
}

/// <summary>A Via header value: transport, sent-by and parameters (RFC 3261 §20.42, RFC 3581).</summary>
public sealed class ViaHeader
{
    /// <summary>The transport (UDP, TCP …).</summary>
    public string Transport { get; set; } = "UDP";

    /// <summary>The sent-by host.</summary>
    public string Host { get; set; } = "";

    /// <summary>The sent-by port, if given.</summary>
    public int? Port { get; set; }

    /// <summary>A Via without parameters.</summary>
    public ViaHeader() : this(new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase))
    {
    }

    private ViaHeader(Dictionary<string, string?> parameters) => Parameters = parameters;

    /// <summary>The parameters (branch, received, rport …).</summary>
    public Dictionary<string, string?> Parameters { get; }

    /// <summary>The branch parameter.</summary>
    public string? Branch => Parameters.GetValueOrDefault("branch");

    /// <summary>Parses a single Via value; null when malformed.</summary>
    public static ViaHeader? Parse(string value)
    {
        // On spans: every message's Via is read here, on the way in and out; only the parts kept become strings.
        var s = value.AsSpan().Trim();
        if (!s.StartsWith("SIP/2.0/", StringComparison.OrdinalIgnoreCase)) return null;
        s = s[8..];
        int sp = s.IndexOfAny(' ', '\t');
        if (sp <= 0) return null;
        var rest = s[sp..].Trim();
        int semi = rest.IndexOf(';');
        var sentBy = semi < 0 ? rest : rest[..semi].Trim();
        var via = semi >= 0 ? new ViaHeader(SipParameters.Parse(rest[semi..])) : new ViaHeader();
        via.Transport = TransportName(s[..sp]);
        if (!SipText.TrySplitHostPort(sentBy.ToString(), out var host, out var port)) return null;
        via.Host = host;
        via.Port = port;
        return via;
    }

    private static string TransportName(ReadOnlySpan<char> name)
    {
        foreach (var known in KnownTransports) if (name.Equals(known, StringComparison.OrdinalIgnoreCase)) return known;
        return name.ToString().ToUpperInvariant();
    }

    private static readonly string[] KnownTransports = ["UDP", "TCP", "TLS", "WS", "WSS", "SCTP"];

    /// <inheritdoc />
    public override string ToString() =>
        $"SIP/2.0/{Transport} {SipText.FormatHostPort(Host, Port)}{SipParameters.Format(Parameters)}";
}

/// <summary>Small text helpers shared by the header parsers.</summary>
public static class SipText
{
    /// <summary>Splits on a separator that is outside double quotes and angle brackets.</summary>
    public static List<string> SplitOutsideQuotes(string text, char separator)
    {
        var parts = new List<string>();
        bool quoted = false;
        int angle = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == '<') angle++;
            else if (c == '>' && angle > 0) angle--;
            else if (c == separator && angle == 0)
            {
                parts.Add(text[start..i]);
                start = i + 1;
            }
        }
        parts.Add(text[start..]);
        return parts;
    }

    /// <summary>The first <paramref name="separator"/> outside double quotes and angle brackets, or -1.</summary>
    public static int IndexOfOutsideQuotes(ReadOnlySpan<char> text, char separator)
    {
        bool quoted = false;
        int angle = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == '<') angle++;
            else if (c == '>' && angle > 0) angle--;
            else if (c == separator && angle == 0) return i;
        }
        return -1;
    }

    /// <summary>Splits "host", "host:port" or "[v6]:port".</summary>
    public static bool TrySplitHostPort(string text, out string host, out int? port)
    {
        host = text.Trim();
        port = null;
        if (host.Length == 0) return false;
        if (host[0] == '[')
        {
            int close = host.IndexOf(']');
            if (close < 0) return false;
            var after = host[(close + 1)..];
            var h = host[..(close + 1)];
            host = h;
            if (after.Length == 0) return true;
            if (after[0] != ':' || !int.TryParse(after[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var p6) || p6 is < 1 or > 65535) return false;
            port = p6;
            return true;
        }
        int colon = host.LastIndexOf(':');
        if (colon < 0) return IsHostChars(host);
        if (!int.TryParse(host.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535) return false;
        host = host[..colon];
        port = p;
        return IsHostChars(host);
    }

    /// <summary>host or host:port.</summary>
    public static string FormatHostPort(string host, int? port) => port is int p ? $"{host}:{p.ToString(CultureInfo.InvariantCulture)}" : host;

    private static bool IsHostChars(string host)
    {
        if (host.Length == 0) return false;
        foreach (var c in host) if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')) return false;
        return true;
    }

    /// <summary>Removes surrounding double quotes and unescapes a quoted string.</summary>
    public static string Unquote(string s)
    {
        s = s.Trim();
        if (s.Length < 2 || s[0] != '"' || s[^1] != '"') return s;
        var inner = s[1..^1];
        if (!inner.Contains('\\')) return inner;
        var sb = new System.Text.StringBuilder(inner.Length);
        for (int i = 0; i < inner.Length; i++)
        {
            if (inner[i] == '\\' && i + 1 < inner.Length) i++;
            sb.Append(inner[i]);
        }
        return sb.ToString();
    }
}
