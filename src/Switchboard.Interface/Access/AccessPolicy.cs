using System.Net;

namespace Switchboard.Interface.Access;

/// <summary>Decides whether a client may send a command; a refusal names the rule that refused it.</summary>
public sealed class AccessPolicy
{
    private readonly IPNetwork[] _allowed;
    private readonly HashSet<string> _origins;

    /// <summary>Creates the policy; invalid network entries throw at start-up rather than silently allowing nothing.</summary>
    public AccessPolicy(AccessOptions options)
    {
        Options = options;
        _allowed = [.. options.AllowedClients.Select(s => IPNetwork.TryParse(s.Trim(), out var n)
            ? n
            : throw new FormatException($"Access:AllowedClients: '{s}' is not a network in CIDR notation (e.g. 192.168.0.0/16)"))];
        _origins = new HashSet<string>(options.AllowedOrigins.Select(o => o.Trim().TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The options in force.</summary>
    public AccessOptions Options { get; }

    /// <summary>Null when the address may send commands, else the refusal text.</summary>
    public string? CheckClient(IPAddress? address)
    {
        if (address is null) return null; // dial files: the directory itself is the trust boundary
        var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var n in _allowed) if (n.Contains(a)) return null;
        return $"client {a} is not in Access:AllowedClients";
    }

    /// <summary>Null when the HTTP Origin may trigger commands, else the refusal text.</summary>
    public string? CheckOrigin(string? origin)
    {
        if (origin is null || _origins.Count == 0) return null;
        return _origins.Contains(origin.TrimEnd('/')) ? null : $"origin {origin} is not in Access:AllowedOrigins";
    }

    /// <summary>True when the origin may read the reply (CORS).</summary>
    public bool OriginAllowed(string origin) => _origins.Count == 0 || _origins.Contains(origin.TrimEnd('/'));
}
