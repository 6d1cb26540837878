using System.Net;

namespace Switchboard.Interface.Access;

/// <summary>Decides whether a client may send a command; a refusal names the rule that refused it.</summary>
public sealed class AccessPolicy
{
    private readonly IPNetwork[] _allowed;
    private readonly IPNetwork[] _outside;
    private readonly CrossSiteJudge _crossSite;

    /// <summary>Creates the policy; invalid network entries throw at start-up rather than silently allowing nothing.</summary>
    public AccessPolicy(AccessOptions options)
    {
        Options = options;
        _allowed = Networks(options.AllowedClients, "Access:AllowedClients");
        _outside = Networks(options.OutsideCallClients, "Access:OutsideCallClients");
        _crossSite = new CrossSiteJudge(options.AllowedOrigins);
    }

    /// <summary>
    /// True while <c>Access:AllowedOrigins</c> is empty: a page on any web site may make a visitor's browser send commands
    /// to the IP port (kept for TAPIMaster compatibility); a console should warn while this is so.
    /// </summary>
    public bool OpenToAllOrigins => _crossSite.IsOpen;

    /// <summary>The cross-site request forgery judge of HTTP commands.</summary>
    public CrossSiteJudge CrossSite => _crossSite;

    /// <summary>The options in force.</summary>
    public AccessOptions Options { get; }

    /// <summary>Null when the address may send commands, else the refusal text.</summary>
    public string? CheckClient(IPAddress? address)
    {
        if (address is null) return null; // dial files: the directory itself is the trust boundary
        var a = Unmapped(address);
        return In(_allowed, a) ? null : $"client {a} is not in Access:AllowedClients";
    }

    /// <summary>Null when the address may send commands that reach outside numbers, else the refusal text.</summary>
    public string? CheckOutsideCall(IPAddress? address)
    {
        // Dial files count as local: whoever can write to the directory is as trusted as a process on this machine.
        if (address is null) return null;
        var a = Unmapped(address);
        return In(_outside, a) ? null : $"client {a} may not dial outside numbers (Access:OutsideCallClients)";
    }

    /// <summary>Null when the HTTP Origin may trigger commands, else the refusal text.</summary>
    public string? CheckOrigin(string? origin)
    {
        if (origin is null || _crossSite.IsOpen) return null;
        return _crossSite.MayRead(origin) ? null : $"origin {origin} is not in Access:AllowedOrigins";
    }

    /// <summary>True when the origin may read the reply (CORS).</summary>
    public bool OriginAllowed(string origin) => _crossSite.MayRead(origin);

    private static IPNetwork[] Networks(List<string> entries, string key) =>
        [.. entries.Select(s => IPNetwork.TryParse(s.Trim(), out var n)
            ? n
            : throw new FormatException($"{key}: '{s}' is not a network in CIDR notation (e.g. 192.168.0.0/16)"))];

    // A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d, which no IPv4 network entry would contain.
    private static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    private static bool In(IPNetwork[] networks, IPAddress a)
    {
        foreach (var n in networks) if (n.Contains(a)) return true;
        return false;
    }
}
