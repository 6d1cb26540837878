using System.Net;
using Switchboard.Sip.Transport;
using Switchboard.Testing.Topology;

namespace Switchboard.Switch.Tests.Net;

/// <summary>Address selection towards a peer on another host (a network namespace behind a veth link).</summary>
public sealed class AddressSelectionTests
{
    [Fact]
    public void A_peer_on_another_link_gets_this_hosts_address_on_that_link_and_the_advertised_one_only_outside_the_local_networks()
    {
        using var ns = NetNs.Create();
        using (var auto = new LocalAddressSelector(IPAddress.Any))
        {
            Assert.Equal(ns.HostAddress, auto.For(ns.PeerAddress));
            Assert.Equal(LocalAddressSource.Route, auto.Select(ns.PeerAddress).Source);
            Assert.True(IPAddress.IsLoopback(auto.For(IPAddress.Loopback)));
        }
        IPNetwork? subnet;
        using (var auto = new LocalAddressSelector(IPAddress.Any)) subnet = auto.ConnectedSubnetOf(ns.PeerAddress);
        Assert.NotNull(subnet);
        Assert.Equal(24, subnet.Value.PrefixLength);
        Assert.True(subnet.Value.Contains(ns.HostAddress));

        var advertised = IPAddress.Parse("203.0.113.5");
        using (var inside = new LocalAddressSelector(IPAddress.Any, advertised, LocalAddressSelector.ParseNetworks([subnet.Value.ToString()])))
            Assert.Equal(ns.HostAddress, inside.For(ns.PeerAddress));
        using (var outside = new LocalAddressSelector(IPAddress.Any, advertised, LocalAddressSelector.ParseNetworks(["192.0.2.0/24"])))
            Assert.Equal(advertised, outside.For(ns.PeerAddress));
    }
}
