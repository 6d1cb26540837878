namespace Switchboard.Interface.Access;

/// <summary>Why a browser's HTTP command was refused as cross-site request forgery. The wire names are stable.</summary>
public enum CrossSiteRefusal
{
    /// <summary>Not refused.</summary>
    None,

    /// <summary>The <c>Origin</c> header names a page whose origin is not in <c>Access:AllowedOrigins</c>.</summary>
    ForeignOrigin,

    /// <summary><c>Origin: null</c>: a file:// page, a sandboxed iframe, a data: URL; no listed origin can vouch for it.</summary>
    OpaqueOrigin,

    /// <summary>No <c>Origin</c>, and the <c>Referer</c> names a page whose origin is not listed.</summary>
    ForeignReferer,

    /// <summary>A browser says the request comes from another site but sends neither <c>Origin</c> nor <c>Referer</c>.</summary>
    UnattributedCrossSite,

    /// <summary>
    /// A same-origin request to this port reached under a host name that is not listed: DNS rebinding makes any name
    /// point here, so only an address (or localhost) proves the page was this port's own.
    /// </summary>
    UnlistedHostName,

    /// <summary>The <c>Origin</c> or <c>Referer</c> is not a URL (too long, no scheme or host).</summary>
    MalformedOrigin,
}

/// <summary>The browser headers of one HTTP request, as they came off the wire (null when absent).</summary>
public readonly record struct BrowserRequestHeaders(
    string? SecFetchSite,
    string? SecFetchMode,
    string? SecFetchDest,
    string? Origin,
    string? Referer,
    string? Host);

/// <summary>The judgement of one request: allowed, or refused with a rule and a text naming it.</summary>
public readonly record struct CrossSiteVerdict(CrossSiteRefusal Refusal, string? Text)
{
    /// <summary>An allowed request.</summary>
    public static CrossSiteVerdict Allowed => default;

    /// <summary>True when the request may run its command.</summary>
    public bool IsAllowed => Refusal == CrossSiteRefusal.None;

    /// <summary>The stable wire name of the rule (<c>opaque-origin</c>), or null when allowed.</summary>
    public string? RuleName => Refusal switch
    {
        CrossSiteRefusal.None => null,
        CrossSiteRefusal.ForeignOrigin => "foreign-origin",
        CrossSiteRefusal.OpaqueOrigin => "opaque-origin",
        CrossSiteRefusal.ForeignReferer => "foreign-referer",
        CrossSiteRefusal.UnattributedCrossSite => "unattributed-cross-site",
        CrossSiteRefusal.UnlistedHostName => "unlisted-host-name",
        CrossSiteRefusal.MalformedOrigin => "malformed-origin",
        _ => "refused",
    };
}

/// <summary>
/// Judges whether a browser request to the IP port's HTTP may run a command, in the order of what a browser can be
/// trusted to send: Fetch Metadata (<c>Sec-Fetch-Site/Mode/Dest</c>, sent by current browsers on navigations and
/// images, which carry no <c>Origin</c>), then <c>Origin</c>, then the origin of the <c>Referer</c>. A request with none of
/// them is a tool (curl, a TAPIMaster client) and keeps working: a page cannot make a browser leave them all out of a
/// cross-site request except by <c>referrerpolicy=no-referrer</c> on an old browser without Fetch Metadata.
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit] // the origin buffers are written before they are read
public sealed class CrossSiteJudge
{
    /// <summary>Longest Origin or Referer judged; longer ones are refused as malformed instead of being parsed.</summary>
    public const int MaxUrlLength = 2048;

    private readonly HashSet<string> _origins;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>Creates the judge from the configured origins (normalised; an entry that is not an origin throws).</summary>
    public CrossSiteJudge(IEnumerable<string> allowedOrigins)
    {
        _origins = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in allowedOrigins)
        {
            var trimmed = entry.Trim();
            if (trimmed.Length == 0) continue;
            _origins.Add(NormaliseOrigin(trimmed.TrimEnd('/'))
                ?? throw new FormatException($"Access:AllowedOrigins: '{entry}' is not an origin (e.g. https://crm.example.com or http://10.0.0.5:8080)"));
        }
        _lookup = _origins.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>True when no origin is listed: any page may send commands, as the original interface allowed.</summary>
    public bool IsOpen => _origins.Count == 0;

    /// <summary>True when a page of <paramref name="origin"/> may read replies (CORS) and reach this port (Private Network Access).</summary>
    public bool MayRead(string origin)
    {
        if (IsOpen) return true;
        if (origin == "null") return false;
        return IsListed(origin, pathAllowed: false) == true;
    }

    /// <summary>True or false for a URL whose origin is or is not listed; null when it is not an http(s) URL.</summary>
    private bool? IsListed(string url, bool pathAllowed)
    {
        if (url.Length > MaxUrlLength) return null;
        Span<char> buffer = stackalloc char[MaxUrlLength];
        int n = SerialiseOrigin(url, pathAllowed, buffer);
        return n < 0 ? null : _lookup.Contains(buffer[..n]);
    }

    /// <summary>Judges one request; in open mode every request is allowed.</summary>
    public CrossSiteVerdict Judge(in BrowserRequestHeaders h)
    {
        if (IsOpen) return CrossSiteVerdict.Allowed;
        var site = h.SecFetchSite;
        if (site is null) return JudgeInitiator(h, fetchSite: null);
        if (site.Equals("none", StringComparison.OrdinalIgnoreCase)
            && (h.SecFetchMode is null || h.SecFetchMode.Equals("navigate", StringComparison.OrdinalIgnoreCase)))
            return CrossSiteVerdict.Allowed; // typed into the address bar or opened from a bookmark: the user, not a page, sent it
        if (site.Equals("same-origin", StringComparison.OrdinalIgnoreCase)) return JudgeSameOrigin(h);
        // same-site, cross-site, and values a future browser may add: the initiator must be listed.
        return JudgeInitiator(h, fetchSite: site);
    }

    private CrossSiteVerdict JudgeSameOrigin(in BrowserRequestHeaders h)
    {
        // The page came from this port; whether it really is this port's own page or one served under a rebound name
        // shows in the name the browser used. An address or localhost cannot be rebound.
        if (h.Origin is not null || h.Referer is not null)
        {
            var named = JudgeInitiator(h, "same-origin");
            if (named.IsAllowed) return named;
            if (named.Refusal is CrossSiteRefusal.OpaqueOrigin or CrossSiteRefusal.MalformedOrigin) return named;
        }
        if (h.Host is { } host && IsAddressOrLocalhost(host)) return CrossSiteVerdict.Allowed;
        var shown = Clip(h.Host ?? "(no Host)");
        return new(CrossSiteRefusal.UnlistedHostName,
            $"{Describe(h.SecFetchMode, h.SecFetchDest)} from a page this port served as {shown}: a host name can be pointed here by DNS rebinding; "
            + $"add http://{shown} to Access:AllowedOrigins or open the page by address");
    }

    // The start of a refusal text (what sent it, and the Sec-Fetch-Site it came with); made only when refusing.
    private static string Intro(in BrowserRequestHeaders h, string? fetchSite) =>
        fetchSite is null ? Describe(h.SecFetchMode, h.SecFetchDest) : $"{Describe(h.SecFetchMode, h.SecFetchDest)} (Sec-Fetch-Site: {Clip(fetchSite)})";

    private CrossSiteVerdict JudgeInitiator(in BrowserRequestHeaders h, string? fetchSite)
    {
        if (h.Origin is { } origin)
        {
            if (origin == "null")
                return new(CrossSiteRefusal.OpaqueOrigin,
                    $"{Intro(h, fetchSite)} from a page with Origin: null (a file:// page, a sandboxed iframe or a data: URL): "
                    + "Access:AllowedOrigins is set, so only pages served from a listed origin may send commands");
            return IsListed(origin, pathAllowed: false) switch
            {
                true => CrossSiteVerdict.Allowed,
                false => new(CrossSiteRefusal.ForeignOrigin, $"{Intro(h, fetchSite)} from origin {Clip(origin)}: origin {Clip(origin)} is not in Access:AllowedOrigins"),
                null => new(CrossSiteRefusal.MalformedOrigin, $"{Intro(h, fetchSite)}: Origin '{Clip(origin)}' is not an origin"),
            };
        }
        if (h.Referer is { } referer)
        {
            switch (IsListed(referer, pathAllowed: true))
            {
                case true:
                    return CrossSiteVerdict.Allowed;
                case null:
                    return new(CrossSiteRefusal.MalformedOrigin, $"{Intro(h, fetchSite)}: Referer '{Clip(referer)}' is not a URL");
            }
            // Refused: only now is the page's origin made into a string, for the text.
            var o = NormaliseOrigin(referer, pathAllowed: true)!;
            return new(CrossSiteRefusal.ForeignReferer, $"{Intro(h, fetchSite)} from a page on {Clip(o)} (Referer): origin {Clip(o)} is not in Access:AllowedOrigins");
        }
        if (fetchSite is null) return CrossSiteVerdict.Allowed; // no browser headers at all: curl, a TAPIMaster client
        return new(CrossSiteRefusal.UnattributedCrossSite,
            $"{Intro(h, fetchSite)} without Origin or Referer: nothing shows it comes from an origin in Access:AllowedOrigins");
    }

    /// <summary>What the request is, for the refusal text: a user sees which of their page's elements sent it.</summary>
    private static string Describe(string? mode, string? dest)
    {
        if (mode is null && dest is null) return "a browser request";
        var m = mode?.ToLowerInvariant();
        var d = dest?.ToLowerInvariant();
        return (m, d) switch
        {
            ("navigate", "document") => "a link or form navigation",
            ("navigate", "iframe" or "frame") => "a navigation in a frame",
            (_, "image") => "an image",
            (_, "script") => "a script",
            (_, "style") => "a style sheet",
            ("cors" or "same-origin" or "no-cors", "empty") => "a fetch()",
            _ => $"a request (Sec-Fetch-Mode: {Clip(mode ?? "-")}, Sec-Fetch-Dest: {Clip(dest ?? "-")})",
        };
    }

    /// <summary>
    /// The origin of an http(s) URL as browsers serialise it (scheme://host[:port], lower case, punycode, default port left
    /// out), or null. Without <paramref name="pathAllowed"/> the URL must be an origin itself (an Origin header, a setting).
    /// </summary>
    public static string? NormaliseOrigin(string url, bool pathAllowed = false)
    {
        if (url.Length > MaxUrlLength) return null;
        Span<char> buffer = stackalloc char[MaxUrlLength];
        int n = SerialiseOrigin(url, pathAllowed, buffer);
        return n < 0 ? null : new string(buffer[..n]);
    }

    /// <summary>
    /// Writes the origin of an http(s) URL to <paramref name="dst"/> (at least as long as <paramref name="url"/>) and
    /// returns its length, or -1 when it is not one: another scheme, user info, a character no host has. Without
    /// <paramref name="pathAllowed"/> (an Origin header, a configured entry) nothing but one "/" may follow the authority.
    /// </summary>
    internal static int SerialiseOrigin(ReadOnlySpan<char> url, bool pathAllowed, Span<char> dst)
    {
        int schemeLength;
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) schemeLength = 4;
        else if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) schemeLength = 5;
        else return -1;
        var rest = url[(schemeLength + 3)..];
        int end = rest.IndexOfAny('/', '?', '#');
        var authority = end < 0 ? rest : rest[..end];
        if (!pathAllowed && end >= 0 && !rest[end..].SequenceEqual("/")) return -1;
        if (authority.IsEmpty || authority.ContainsAny('@', '\\')) return -1;

        ReadOnlySpan<char> host, port = default;
        if (authority[0] == '[')
        {
            int close = authority.IndexOf(']');
            if (close < 2 || !System.Net.IPAddress.TryParse(authority[1..close], out _)) return -1;
            host = authority[..(close + 1)];
            var after = authority[(close + 1)..];
            if (!after.IsEmpty)
            {
                if (after[0] != ':') return -1;
                port = after[1..];
            }
        }
        else
        {
            int colon = authority.IndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            if (colon >= 0) port = authority[(colon + 1)..];
            if (host.IsEmpty) return -1;
            foreach (var c in host)
            {
                if (c > 0x7f) return IdnOrigin(url, dst); // an international name: its punycode form, the slow way
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')) return -1;
            }
        }
        int portNumber = schemeLength == 4 ? 80 : 443;
        if (!port.IsEmpty)
        {
            if (port.Length > 5 || !int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out portNumber)
                || portNumber > 65535) return -1;
        }

        int n = 0;
        url[..(schemeLength + 3)].ToLowerInvariant(dst);
        n += schemeLength + 3;
        n += host.ToLowerInvariant(dst[n..]);
        if (portNumber != (schemeLength == 4 ? 80 : 443))
        {
            dst[n++] = ':';
            portNumber.TryFormat(dst[n..], out int written, provider: System.Globalization.CultureInfo.InvariantCulture);
            n += written;
        }
        return n;
    }

    private static int IdnOrigin(ReadOnlySpan<char> url, Span<char> dst)
    {
        if (!Uri.TryCreate(url.ToString(), UriKind.Absolute, out var u) || u.UserInfo.Length > 0 || u.Host.Length == 0) return -1;
        var origin = u.IsDefaultPort ? $"{u.Scheme}://{u.IdnHost}" : $"{u.Scheme}://{u.IdnHost}:{u.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        return origin.AsSpan().TryCopyTo(dst) ? origin.Length : -1;
    }

    private static bool IsAddressOrLocalhost(string host)
    {
        // Host is "name[:port]" or "[v6][:port]".
        var name = host;
        if (name.StartsWith('['))
        {
            int end = name.IndexOf(']');
            return end > 1 && System.Net.IPAddress.TryParse(name.AsSpan(1, end - 1), out _);
        }
        int colon = name.LastIndexOf(':');
        if (colon >= 0) name = name[..colon];
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(name, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && name.Count(c => c == '.') == 3);
    }

    // Wire values go into the reply and the log: short, and printable ASCII only.
    private static string Clip(string s)
    {
        var span = s.AsSpan(0, Math.Min(s.Length, 200));
        return string.Create(span.Length + (s.Length > 200 ? 1 : 0), (s, span.Length), static (dst, st) =>
        {
            for (int i = 0; i < st.Item2; i++) dst[i] = st.s[i] is >= ' ' and <= '~' ? st.s[i] : '?';
            if (dst.Length > st.Item2) dst[^1] = '~';
        });
    }
}
