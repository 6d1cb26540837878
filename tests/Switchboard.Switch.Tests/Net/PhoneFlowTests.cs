using System.Net;
using Switchboard.Sip.Transport;
using Switchboard.Storage;
using Switchboard.Switch.Registrar;
using Switchboard.Telephony;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests.Net;

/// <summary>Where a registered phone is reached, and that the flow survives a restart of the switch.</summary>
public sealed class PhoneFlowTests
{
    private static SipEndPoint Udp(string ep) => new(SipProtocol.Udp, IPEndPoint.Parse(ep));

    [Theory]
    [InlineData("sip:101@192.168.1.20:5060", "203.0.113.9:40000", "203.0.113.9:40000", FlowReason.ContactAddressDiffers)]
    [InlineData("sip:101@0.0.0.0:5060", "10.1.2.3:5060", "10.1.2.3:5060", FlowReason.ContactUnroutable)]
    [InlineData("sip:101@127.0.0.1:5060", "10.1.2.3:5062", "10.1.2.3:5062", FlowReason.ContactUnroutable)]
    [InlineData("sip:101@phone.example:5060", "10.1.2.3:5062", "10.1.2.3:5062", FlowReason.ContactUnroutable)]
    [InlineData("sip:101@10.1.2.3:5070", "10.1.2.3:5062", "10.1.2.3:5070", FlowReason.ContactMatchesSource)]
    [InlineData("sip:101@127.0.0.1:5070", "127.0.0.1:5062", "127.0.0.1:5070", FlowReason.ContactMatchesSource)]
    public void A_phone_is_reached_at_its_flow_unless_its_Contact_names_its_own_host(string contact, string source, string reached, FlowReason reason)
    {
        var flow = PhoneFlow.Of(contact, Udp(source));
        Assert.Equal(IPEndPoint.Parse(reached), flow.EndPoint.Address);
        Assert.Equal(reason, flow.Reason);
        Assert.Equal(reason is FlowReason.ContactAddressDiffers or FlowReason.ContactUnroutable, flow.NatDetected);
    }

    [Fact]
    public void Over_TCP_the_phone_is_reached_on_its_connection()
    {
        var source = new SipEndPoint(SipProtocol.Tcp, IPEndPoint.Parse("10.1.2.3:41234"));
        Assert.Equal(source, PhoneFlow.Of("sip:101@10.1.2.3:5060;transport=tcp", source).EndPoint);
        Assert.True(PhoneFlow.Of("sip:101@192.168.0.5:5060;transport=tcp", source).NatDetected);
    }

    [Theory]
    [InlineData("udp:10.1.2.3:5060", true)]
    [InlineData("tcp:[2001:db8::1]:5060", true)]
    [InlineData("sctp:10.1.2.3:5060", false)]
    [InlineData("udp:10.1.2.3", false)]
    [InlineData("udp:10.1.2.3:0", false)]
    [InlineData("garbage", false)]
    public void Stored_sources_are_read_back_or_refused(string stored, bool ok) => Assert.Equal(ok, PhoneFlow.TryParseSource(stored, out _));

    [Fact]
    public async Task After_a_restart_a_phone_behind_NAT_is_still_called_at_its_flow()
    {
        var dir = Directory.CreateTempSubdirectory("sb-flow-").FullName;
        try
        {
            var options = new SwitchOptions
            {
                ListenAddress = "0.0.0.0",
                Port = 0,
                T1Milliseconds = 100,
                Passwords = new() { ["100"] = "pw100", ["101"] = "pw101" },
            };
            using var store = new SqliteStore(Path.Combine(dir, "sb.db"));
            await using var phone = RawPhone.OnLoopback("127.0.0.8", "101", "pw101", new IPEndPoint(IPAddress.Loopback, 1));
            await using (var first = new SipSwitch(options, new CallModel(options.Devices, new CallEventHub(), store, store), store, store))
            {
                first.Start();
                phone.Server = new IPEndPoint(IPAddress.Loopback, first.LocalEndPoint.Port);
                Assert.Equal(200, (await phone.RegisterAsync("<sip:101@192.168.5.5:5060>")).StatusCode);
            }
            var model = new CallModel(options.Devices, new CallEventHub(), store, store);
            await using var second = new SipSwitch(options, model, store, store);
            second.Start();
            Assert.True(model.IsReachable("101"));
            await using var caller = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", new IPEndPoint(IPAddress.Loopback, second.LocalEndPoint.Port));
            var calling = caller.CallAsync("101", "127.0.0.2", 40014, "restart-" + Guid.NewGuid().ToString("N"));
            var (invite, from) = await phone.RequestAsync("INVITE");
            Assert.Equal(second.LocalEndPoint.Port, from.Port);
            await phone.RespondAsync(invite, 486, from);
            Assert.Equal(486, (await calling).Final.StatusCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
