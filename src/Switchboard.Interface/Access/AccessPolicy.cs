using System.Net;

namespace Switchboard.Interface.Access;

/// <summary>Decides whether a client may send a command; a refusal names the rule that refused it.</summary>
public sealed class AccessPolicy
{
    // One immutable set of rules, swapped whole by Apply (switchboard ctl reload): a check in flight sees either the
    // old lists or the new ones, never a mix, and no lock is taken on the command path.
    private sealed record Rules(AccessOptions Options, IPNetwork[] Allowed, IPNetwork[] Outside, CrossSiteJudge CrossSite);

    private volatile Rules _rules;

    /// <summary>Creates the policy; invalid network entries throw at start-up rather than silently allowing nothing.</summary>
    public AccessPolicy(AccessOptions options) => _rules = Build(options);

    /// <summary>
    /// Replaces the lists in force with <paramref name="options"/> (a reload); an invalid entry throws and the lists
    /// in force stay as they were.
    /// </summary>
    public void Apply(AccessOptions options) => _rules = Build(options);

    private static Rules Build(AccessOptions options) => new(options,
        Networks(options.AllowedClients, "Access:AllowedClients"),
        Networks(options.OutsideCallClients, "Access:OutsideCallClients"),
        new CrossSiteJudge(options.AllowedOrigins));

    /// <summary>
    /// True while <c>Access:AllowedOrigins</c> is empty: a page on any web site may make a visitor's browser send commands
    /// to the IP port (kept for TAPIMaster compatibility); a console should warn while this is so.
    /// </summary>
    public bool OpenToAllOrigins => _rules.CrossSite.IsOpen;

    /// <summary>The cross-site request forgery judge of HTTP commands.</summary>
    public CrossSiteJudge CrossSite => _rules.CrossSite;

    /// <summary>The options in force.</summary>
    public AccessOptions Options => _rules.Options;

    /// <summary>Null when the address may send commands, else the refusal text.</summary>
    public string? CheckClient(IPAddress? address)
    {
        if (address is null) return null; // dial files: the directory itself is the trust boundary
        var a = Unmapped(address);
        return In(_rules.Allowed, a) ? null : $"client {a} is not in Access:AllowedClients";
    }

    /// <summary>Null when the address may send commands that reach outside numbers, else the refusal text.</summary>
    public string? CheckOutsideCall(IPAddress? address)
    {
        // Dial files count as local: whoever can write to the directory is as trusted as a process on this machine.
        if (address is null) return null;
        var a = Unmapped(address);
        return In(_rules.Outside, a) ? null : $"client {a} may not dial outside numbers (Access:OutsideCallClients)";
    }

    /// <summary>Null when the HTTP Origin may trigger commands, else the refusal text.</summary>
    public string? CheckOrigin(string? origin)
    {
        var crossSite = _rules.CrossSite;
        if (origin is null || crossSite.IsOpen) return null;
        return crossSite.MayRead(origin) ? null : $"origin {origin} is not in Access:AllowedOrigins";
    }

    /// <summary>True when the origin may read the reply (CORS).</summary>
    public bool OriginAllowed(string origin) => _rules.CrossSite.MayRead(origin);

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
