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
public sealed class CrossSiteJudge
{
    /// <summary>Longest Origin or Referer judged; longer ones are refused as malformed instead of being parsed.</summary>
    public const int MaxUrlLength = 2048;

    private readonly HashSet<string> _origins;

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
    }

    /// <summary>True when no origin is listed: any page may send commands, as the original interface allowed.</summary>
    public bool IsOpen => _origins.Count == 0;

    /// <summary>True when a page of <paramref name="origin"/> may read replies (CORS) and reach this port (Private Network Access).</summary>
    public bool MayRead(string origin)
    {
        if (IsOpen) return true;
        if (origin == "null") return false;
        return NormaliseOrigin(origin) is { } o && _origins.Contains(o);
    }

    /// <summary>Judges one request; in open mode every request is allowed.</summary>
    public CrossSiteVerdict Judge(in BrowserRequestHeaders h)
    {
        if (IsOpen) return CrossSiteVerdict.Allowed;
        var what = Describe(h.SecFetchMode, h.SecFetchDest);
        switch (h.SecFetchSite?.ToLowerInvariant())
        {
            case "none" when h.SecFetchMode is null || h.SecFetchMode.Equals("navigate", StringComparison.OrdinalIgnoreCase):
                // Typed into the address bar or opened from a bookmark: the user, not a page, sent it.
                return CrossSiteVerdict.Allowed;
            case "same-origin":
                return JudgeSameOrigin(h, what);
            case null:
                return JudgeInitiator(h, what, fetchSite: null);
            default:
                // same-site, cross-site, and values a future browser may add: the initiator must be listed.
                return JudgeInitiator(h, what, fetchSite: h.SecFetchSite);
        }
    }

    private CrossSiteVerdict JudgeSameOrigin(in BrowserRequestHeaders h, string what)
    {
        // The page came from this port; whether it really is this port's own page or one served under a rebound name
        // shows in the name the browser used. An address or localhost cannot be rebound.
        if (h.Origin is not null || h.Referer is not null)
        {
            var named = JudgeInitiator(h, what, "same-origin");
            if (named.IsAllowed) return named;
            if (named.Refusal is CrossSiteRefusal.OpaqueOrigin or CrossSiteRefusal.MalformedOrigin) return named;
        }
        if (h.Host is { } host && IsAddressOrLocalhost(host)) return CrossSiteVerdict.Allowed;
        var shown = Clip(h.Host ?? "(no Host)");
        return new(CrossSiteRefusal.UnlistedHostName,
            $"{what} from a page this port served as {shown}: a host name can be pointed here by DNS rebinding; "
            + $"add http://{shown} to Access:AllowedOrigins or open the page by address");
    }

    private CrossSiteVerdict JudgeInitiator(in BrowserRequestHeaders h, string what, string? fetchSite)
    {
        var via = fetchSite is null ? "" : $" (Sec-Fetch-Site: {Clip(fetchSite)})";
        if (h.Origin is { } origin)
        {
            if (origin == "null")
                return new(CrossSiteRefusal.OpaqueOrigin,
                    $"{what}{via} from a page with Origin: null (a file:// page, a sandboxed iframe or a data: URL): "
                    + "Access:AllowedOrigins is set, so only pages served from a listed origin may send commands");
            if (origin.Length > MaxUrlLength || NormaliseOrigin(origin) is not { } o)
                return new(CrossSiteRefusal.MalformedOrigin, $"{what}{via}: Origin '{Clip(origin)}' is not an origin");
            return _origins.Contains(o)
                ? CrossSiteVerdict.Allowed
                : new(CrossSiteRefusal.ForeignOrigin, $"{what}{via} from origin {Clip(origin)}: origin {Clip(origin)} is not in Access:AllowedOrigins");
        }
        if (h.Referer is { } referer)
        {
            if (referer.Length > MaxUrlLength || OriginOfUrl(referer) is not { } o)
                return new(CrossSiteRefusal.MalformedOrigin, $"{what}{via}: Referer '{Clip(referer)}' is not a URL");
            return _origins.Contains(o)
                ? CrossSiteVerdict.Allowed
                : new(CrossSiteRefusal.ForeignReferer, $"{what}{via} from a page on {Clip(o)} (Referer): origin {Clip(o)} is not in Access:AllowedOrigins");
        }
        if (fetchSite is null) return CrossSiteVerdict.Allowed; // no browser headers at all: curl, a TAPIMaster client
        return new(CrossSiteRefusal.UnattributedCrossSite,
            $"{what}{via} without Origin or Referer: nothing shows it comes from an origin in Access:AllowedOrigins");
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

    /// <summary>scheme://host[:port] in the form browsers serialise it (lower case, default port left out), or null.</summary>
    internal static string? NormaliseOrigin(string origin)
    {
        if (origin.Length > MaxUrlLength) return null;
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var u) || u.PathAndQuery is not ("/" or "") || u.Fragment.Length > 0) return null;
        if (u.UserInfo.Length > 0) return null;
        return OriginOf(u);
    }

    private static string? OriginOfUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.UserInfo.Length == 0 ? OriginOf(u) : null;

    private static string? OriginOf(Uri u)
    {
        if (u.Scheme is not ("http" or "https") || u.Host.Length == 0) return null;
        // Browsers serialise an origin's host in its ASCII (punycode) form; so does the comparison.
        var host = u.HostNameType == UriHostNameType.IPv6 ? u.Host : u.IdnHost;
        return u.IsDefaultPort ? $"{u.Scheme}://{host}" : $"{u.Scheme}://{host}:{u.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
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
