using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Switchboard.Web;

/// <summary>
/// Whether a Host header names this server. A DNS-rebinding page reaches the port under its own name
/// (attacker.example resolving to 127.0.0.1), so a request for a name the server does not answer to is refused before
/// anything else runs: the browser treats it as that other origin, and our cookie and same-origin rules must not apply.
/// </summary>
internal sealed class HostCheck
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(10);
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _configured;
    private readonly bool _any;
    private readonly object _gate = new();
    private HashSet<IPAddress> _addresses = [];
    private long _refreshedAt;

    public HostCheck(IReadOnlyList<string> configured)
    {
        _configured = configured.Count > 0;
        foreach (var raw in configured)
        {
            var name = raw.Trim().Trim('[', ']');
            if (name == "*") _any = true;
            else if (IPAddress.TryParse(name, out var ip)) _addresses.Add(Normalise(ip));
            else if (name.Length > 0) _names.Add(name.TrimEnd('.'));
        }
        if (!_configured)
        {
            _names.Add("localhost");
            try
            {
                _names.Add(Dns.GetHostName());
            }
            catch (SocketException)
            {
            }
            _addresses = LocalAddresses();
            _refreshedAt = Environment.TickCount64;
        }
    }

    /// <summary>The names in force (for the log at start).</summary>
    public string Describe() => _any ? "*" : string.Join(", ", _names.Concat(_addresses.Select(a => a.ToString())));

    /// <summary>True when <paramref name="host"/> (the Host header's host part, IPv6 in brackets or not) is one of ours.</summary>
    public bool Allows(string host)
    {
        if (_any) return true;
        var h = host.Trim('[', ']');
        if (h.Length == 0) return false;
        if (!IPAddress.TryParse(h, out var ip)) return _names.Contains(h.TrimEnd('.'));
        ip = Normalise(ip);
        if (IPAddress.IsLoopback(ip) && !_configured) return true;
        lock (_gate)
        {
            if (_addresses.Contains(ip)) return true;
            // An address added to the machine since the last look; a flood of unknown literals costs one listing per interval.
            if (_configured || Environment.TickCount64 - _refreshedAt < RefreshEvery.TotalMilliseconds) return false;
            _addresses = LocalAddresses();
            _refreshedAt = Environment.TickCount64;
            return _addresses.Contains(ip);
        }
    }

    private static IPAddress Normalise(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) return ip.MapToIPv4();
        if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0) return new IPAddress(ip.GetAddressBytes());
        return ip;
    }

    private static HashSet<IPAddress> LocalAddresses()
    {
        var set = new HashSet<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                foreach (var a in nic.GetIPProperties().UnicastAddresses) set.Add(Normalise(a.Address));
        }
        catch (NetworkInformationException)
        {
        }
        return set;
    }
}
