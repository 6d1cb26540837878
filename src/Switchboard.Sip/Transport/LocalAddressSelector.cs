using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Switchboard.Sip.Transport;

/// <summary>How the address written towards a peer was chosen (for logs and tests).</summary>
public enum LocalAddressSource
{
    /// <summary>The transport listens on one specific address: that one, for every peer.</summary>
    ListenAddress,
    /// <summary>The address of the interface the kernel routes the peer through.</summary>
    Route,
    /// <summary><c>Sip:AdvertisedAddress</c>: the peer is outside <c>Sip:LocalNetworks</c>.</summary>
    Advertised,
    /// <summary>No route gave a usable address; the first address of an interface that is up.</summary>
    InterfaceFallback,
}

/// <summary>
/// Chooses the local address the switch writes into Via, Contact and SDP towards one peer. On a wildcard listen
/// address the answer is the source address the kernel would pick for a datagram to the peer (a connected UDP socket's
/// local address, no packet sent), so a server on two LANs answers each phone with the address of that phone's LAN.
/// <c>AdvertisedAddress</c> with <c>LocalNetworks</c> overrides this for a server behind NAT, as Asterisk's
/// external_signaling_address and local_net do. Answers are cached per destination, bounded, dropped when the host's
/// addresses change and after <see cref="Ttl"/>, because a route that changed must not stay wrong for long.
/// </summary>
public sealed class LocalAddressSelector : IDisposable
{
    /// <summary>Most destinations remembered; past this the cache is emptied rather than grown.</summary>
    public const int MaxCachedDestinations = 4096;

    private readonly ConcurrentDictionary<IPAddress, (IPAddress Local, LocalAddressSource Source, long Expires)> _cache = new();
    private readonly IPAddress _listen;
    private readonly IPAddress? _advertised;
    private readonly IReadOnlyList<IPNetwork> _localNetworks;
    private readonly TimeProvider _time;
    private volatile Subnets? _subnets;
    private int _disposed;

    /// <summary>Creates a selector for a transport bound to <paramref name="listen"/>.</summary>
    /// <param name="listen">The listen address (a wildcard means: choose per peer).</param>
    /// <param name="advertised">The server's public address when it sits behind NAT; null for none.</param>
    /// <param name="localNetworks">Networks whose peers get the local address rather than <paramref name="advertised"/>.</param>
    /// <param name="time">The clock for the cache lifetime.</param>
    public LocalAddressSelector(IPAddress listen, IPAddress? advertised = null, IReadOnlyList<IPNetwork>? localNetworks = null, TimeProvider? time = null)
    {
        _listen = Normalize(listen);
        _advertised = advertised is null ? null : Normalize(advertised);
        _localNetworks = localNetworks ?? [];
        _time = time ?? TimeProvider.System;
        NetworkChange.NetworkAddressChanged += OnAddressChanged;
    }

    /// <summary>How long a routed answer is trusted.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>True when the transport listens on 0.0.0.0 or <c>::</c>.</summary>
    public bool IsWildcard => _listen.Equals(IPAddress.Any) || _listen.Equals(IPAddress.IPv6Any);

    /// <summary>Destinations cached now (for tests).</summary>
    public int CachedDestinations => _cache.Count;

    /// <summary>The address to write towards <paramref name="destination"/>.</summary>
    public IPAddress For(IPAddress destination) => Select(destination).Local;

    /// <summary>The address to write towards <paramref name="destination"/> and why it was chosen.</summary>
    public (IPAddress Local, LocalAddressSource Source) Select(IPAddress destination)
    {
        destination = Normalize(destination);
        if (_advertised is not null && !IPAddress.IsLoopback(destination) && !InLocalNetwork(destination))
            return (_advertised, LocalAddressSource.Advertised);
        if (!IsWildcard) return (_listen, LocalAddressSource.ListenAddress);
        long now = _time.GetTimestamp();
        if (_cache.TryGetValue(destination, out var hit) && hit.Expires > now) return (hit.Local, hit.Source);
        var chosen = Route(destination);
        if (_cache.Count >= MaxCachedDestinations) _cache.Clear();
        _cache[destination] = (chosen.Local, chosen.Source, now + (long)(Ttl.TotalSeconds * _time.TimestampFrequency));
        return chosen;
    }

    /// <summary>True when the address lies in one of the configured <c>LocalNetworks</c>.</summary>
    public bool InLocalNetwork(IPAddress address)
    {
        address = Normalize(address);
        foreach (var n in _localNetworks)
            if (n.Contains(address)) return true;
        return false;
    }

    /// <summary>The configured local network that holds both addresses, or null.</summary>
    public IPNetwork? CommonLocalNetwork(IPAddress a, IPAddress b)
    {
        a = Normalize(a);
        b = Normalize(b);
        foreach (var n in _localNetworks)
            if (n.Contains(a) && n.Contains(b)) return n;
        return null;
    }

    /// <summary>True when any <c>LocalNetworks</c> entry is configured.</summary>
    public bool HasLocalNetworks => _localNetworks.Count > 0;

    /// <summary>
    /// The directly connected subnet (interface address and prefix) that holds <paramref name="address"/>, or null when the
    /// address is reached through a router or not at all. Loopback counts as the subnet of the loopback interface.
    /// The host's subnets are read once per <see cref="Ttl"/> (and again after an address change): listing the
    /// interfaces costs about 0.3 ms, and every call dialled between two phones asks twice.
    /// </summary>
    public IPNetwork? ConnectedSubnetOf(IPAddress address)
    {
        address = Normalize(address);
        if (IPAddress.IsLoopback(address)) return address.AddressFamily == AddressFamily.InterNetwork ? new IPNetwork(IPAddress.Parse("127.0.0.0"), 8) : new IPNetwork(IPAddress.IPv6Loopback, 128);
        long now = _time.GetTimestamp();
        var subnets = _subnets;
        if (subnets is null || subnets.Expires <= now)
            _subnets = subnets = new Subnets(ReadConnectedSubnets(), now + (long)(Ttl.TotalSeconds * _time.TimestampFrequency));
        foreach (var net in subnets.Networks)
            if (net.BaseAddress.AddressFamily == address.AddressFamily && net.Contains(address)) return net;
        return null;
    }

    private static IPNetwork[] ReadConnectedSubnets()
    {
        var found = new List<IPNetwork>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown)) continue;
                foreach (var u in nic.GetIPProperties().UnicastAddresses)
                {
                    if (u.PrefixLength <= 0) continue;
                    found.Add(new IPNetwork(Mask(u.Address, u.PrefixLength), u.PrefixLength));
                }
            }
        }
        catch (NetworkInformationException)
        {
        }
        return [.. found];
    }

    /// <summary>Parses a <c>LocalNetworks</c> list ("10.0.0.0/8", "192.168.1.0/24", a bare address as /32).</summary>
    /// <exception cref="FormatException">An entry is no CIDR network.</exception>
    public static IReadOnlyList<IPNetwork> ParseNetworks(IEnumerable<string> entries)
    {
        var list = new List<IPNetwork>();
        foreach (var raw in entries)
        {
            var e = raw.Trim();
            if (e.Length == 0) continue;
            if (!e.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(e, out var single))
            {
                list.Add(new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
                continue;
            }
            int slash = e.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0 || !IPAddress.TryParse(e.AsSpan(0, slash), out var baseAddress) || !int.TryParse(e.AsSpan(slash + 1), out var prefix)
                || prefix < 0 || prefix > (baseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
                throw new FormatException($"Sip:LocalNetworks entry '{e}' is no CIDR network (like 192.168.1.0/24)");
            // A host address with a prefix ("192.168.1.10/24") means its network, as ip(8) writes it.
            list.Add(new IPNetwork(Mask(baseAddress, prefix), prefix));
        }
        return list;
    }

    /// <summary>An IPv4-mapped IPv6 address as plain IPv4 (dual-stack sockets report peers that way).</summary>
    public static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>True for 0.0.0.0, <c>::</c>, loopback and other addresses no remote peer can send to.</summary>
    public static bool IsUnusableTowardsRemote(IPAddress a)
    {
        a = Normalize(a);
        return a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) || a.Equals(IPAddress.None) || IPAddress.IsLoopback(a)
            || (a.AddressFamily == AddressFamily.InterNetwork && a.GetAddressBytes()[0] is 0 or >= 224)
            || (a.AddressFamily == AddressFamily.InterNetworkV6 && a.IsIPv6Multicast);
    }

    /// <summary>RFC 1918, RFC 6598 (carrier-grade NAT), link-local and RFC 4193 addresses: ones that suggest a NAT in between.</summary>
    public static bool IsPrivate(IPAddress a)
    {
        a = Normalize(a);
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = a.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && b[1] is >= 64 and <= 127) || (b[0] == 169 && b[1] == 254);
        }
        return a.IsIPv6LinkLocal || a.IsIPv6UniqueLocal;
    }

    private (IPAddress Local, LocalAddressSource Source) Route(IPAddress destination)
    {
        var family = destination.AddressFamily;
        try
        {
            using var probe = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            // connect(2) on UDP only asks the routing table; nothing is sent. The port is irrelevant (not 0: some
            // kernels refuse it).
            probe.Connect(new IPEndPoint(destination, 9));
            if (probe.LocalEndPoint is IPEndPoint { } local)
            {
                var a = Normalize(local.Address);
                if (!(IsUnusableTowardsRemote(a) && !IPAddress.IsLoopback(destination)))
                    return (a, LocalAddressSource.Route);
            }
        }
        catch (SocketException)
        {
        }
        if (IPAddress.IsLoopback(destination)) return (destination, LocalAddressSource.Route);
        return (FirstInterfaceAddress(family) ?? (family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback), LocalAddressSource.InterfaceFallback);
    }

    private static IPAddress? FirstInterfaceAddress(AddressFamily family)
    {
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback) continue;
                foreach (var u in nic.GetIPProperties().UnicastAddresses)
                    if (u.Address.AddressFamily == family && !IsUnusableTowardsRemote(u.Address) && !u.Address.IsIPv6LinkLocal) return u.Address;
            }
        }
        catch (NetworkInformationException)
        {
        }
        return null;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
        return new IPAddress(bytes);
    }

    private void OnAddressChanged(object? sender, EventArgs e)
    {
        _cache.Clear();
        _subnets = null;
    }

    private sealed record Subnets(IPNetwork[] Networks, long Expires);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        NetworkChange.NetworkAddressChanged -= OnAddressChanged;
        _cache.Clear();
    }
}
