using System.Net;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Tests;

/// <summary>The address the switch writes towards a peer (the kernel's routing table, real sockets, no packet sent).</summary>
public sealed class LocalAddressSelectorTests
{
    [Fact]
    public void On_a_wildcard_listen_address_a_loopback_peer_gets_a_loopback_address_never_the_wildcard()
    {
        using var s = new LocalAddressSelector(IPAddress.Any);
        var (local, source) = s.Select(IPAddress.Parse("127.0.0.9"));
        Assert.True(IPAddress.IsLoopback(local));
        Assert.Equal(LocalAddressSource.Route, source);
        Assert.NotEqual(IPAddress.Any, s.For(IPAddress.Parse("::ffff:127.0.0.1")));
    }

    [Fact]
    public void A_specific_listen_address_is_used_as_it_is()
    {
        using var s = new LocalAddressSelector(IPAddress.Parse("127.0.0.7"));
        Assert.Equal(IPAddress.Parse("127.0.0.7"), s.For(IPAddress.Parse("127.0.0.1")));
        Assert.Equal(LocalAddressSource.ListenAddress, s.Select(IPAddress.Parse("127.0.0.1")).Source);
    }

    [Fact]
    public void The_advertised_address_goes_to_peers_outside_the_local_networks_only()
    {
        var nets = LocalAddressSelector.ParseNetworks(["192.168.10.0/24", " 10.0.0.0/8 ", "172.16.5.9/16"]);
        using var s = new LocalAddressSelector(IPAddress.Parse("127.0.0.1"), IPAddress.Parse("203.0.113.5"), nets);
        Assert.Equal(IPAddress.Parse("203.0.113.5"), s.For(IPAddress.Parse("198.51.100.7")));
        Assert.Equal(IPAddress.Parse("127.0.0.1"), s.For(IPAddress.Parse("192.168.10.44")));
        Assert.Equal(IPAddress.Parse("127.0.0.1"), s.For(IPAddress.Parse("172.16.200.1")));
        // A phone on the server's own loopback never gets the public address.
        Assert.Equal(IPAddress.Parse("127.0.0.1"), s.For(IPAddress.Loopback));
        Assert.NotNull(s.CommonLocalNetwork(IPAddress.Parse("10.1.1.1"), IPAddress.Parse("10.200.0.3")));
        Assert.Null(s.CommonLocalNetwork(IPAddress.Parse("10.1.1.1"), IPAddress.Parse("192.168.10.3")));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("banana")]
    [InlineData("10.0.0.0/")]
    [InlineData("/24")]
    public void A_local_network_that_is_no_CIDR_is_refused_with_the_entry(string entry)
    {
        var ex = Assert.Throws<FormatException>(() => LocalAddressSelector.ParseNetworks([entry]));
        Assert.Contains(entry, ex.Message);
    }

    [Theory]
    [InlineData("0.0.0.0", true)]
    [InlineData("::", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("239.1.1.1", true)]
    [InlineData("10.1.2.3", false)]
    [InlineData("198.51.100.1", false)]
    public void Addresses_no_remote_peer_can_send_to_are_recognised(string address, bool unusable) =>
        Assert.Equal(unusable, LocalAddressSelector.IsUnusableTowardsRemote(IPAddress.Parse(address)));

    [Fact]
    public void The_cache_stays_bounded()
    {
        using var s = new LocalAddressSelector(IPAddress.Any);
        for (int i = 0; i < LocalAddressSelector.MaxCachedDestinations + 50; i++)
            s.For(new IPAddress(new byte[] { 127, (byte)(i >> 16), (byte)(i >> 8), (byte)i }));
        Assert.True(s.CachedDestinations <= LocalAddressSelector.MaxCachedDestinations);
    }
}
