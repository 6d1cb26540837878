namespace Switchboard.Interface.Access;

/// <summary>Who may send commands (configuration section "Access").</summary>
public sealed class AccessOptions
{
    /// <summary>Client networks allowed to send commands, in CIDR notation. Default: loopback and private networks.</summary>
    public List<string> AllowedClients { get; set; } =
        ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10"];

    /// <summary>
    /// Client networks whose commands may reach outside numbers (MakeCall, Redirect, Forward), in CIDR notation. Default:
    /// loopback only, so a click-to-dial client on the LAN reaches extensions but not the public network unless listed.
    /// </summary>
    public List<string> OutsideCallClients { get; set; } = ["127.0.0.0/8", "::1/128"];

    /// <summary>When true, a client mapped in FCTIIPEX.INI may control only its own extension.</summary>
    public bool RestrictMappedClientsToOwnExtension { get; set; }

    /// <summary>
    /// Web origins (e.g. <c>https://crm.example.com</c>) whose pages may trigger commands over HTTP. Empty means any
    /// origin, as the original interface did; set it to close the cross-site request forgery hole.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];
}
