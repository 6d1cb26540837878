using System.Net;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests.Net;

/// <summary>Trunk calls to and from a phone behind NAT have their media in the switch: the provider cannot reach the phone's private address.</summary>
public sealed class TrunkNatTests
{
    [Fact]
    public async Task An_inbound_trunk_call_to_a_phone_behind_NAT_offers_the_phone_the_switchs_media_not_the_providers()
    {
        await using var f = new TrunkFixture();
        var sw = new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port);
        await using var phone = RawPhone.OnLoopback("127.0.0.3", "101", "pw101", sw);
        Assert.Equal(200, (await phone.RegisterAsync("<sip:101@192.168.77.10:5060>")).StatusCode);
        await using var provider = RawPhone.OnLoopback("127.0.0.1", "+498912345", "", sw, f.UpstreamPort);

        var invite = provider.NewRequest("INVITE", $"sip:+4989555101@{sw}", "trunk-in-" + Guid.NewGuid().ToString("N"), "prov",
            $"<sip:+4989555101@{sw.Address}>", $"<sip:+498912345@{provider.Local}>");
        invite.Add(SipHeaderNames.ContentType, "application/sdp");
        invite.Body = RawPhone.Sdp("127.0.0.1", 40020);
        await provider.SendAsync(invite);
        var (atPhone, from) = await phone.RequestAsync("INVITE");
        Assert.NotEqual(40020, PortOf(atPhone.Body));
        await phone.RespondAsync(atPhone, 200, from, RawPhone.Sdp("192.168.77.10", 4000));
        var ok = await provider.ResponseAsync(invite);
        Assert.Equal(200, ok.StatusCode);
        Assert.DoesNotContain("192.168.77.10", ok.BodyText);
        await provider.AckAsync(invite, ok);
        Assert.Equal(1, f.Switch.AnchoredCalls);
    }

    [Fact]
    public async Task A_phone_behind_NAT_calling_out_through_the_trunk_sends_its_media_to_the_switch()
    {
        await using var f = new TrunkFixture();
        var sw = new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port);
        await using var provider = RawPhone.OnLoopback("127.0.0.1", "provider", "", sw, f.UpstreamPort);
        await using var phone = RawPhone.OnLoopback("127.0.0.3", "100", "pw100", sw);
        Assert.Equal(200, (await phone.RegisterAsync("<sip:100@192.168.77.10:5060>")).StatusCode);

        var calling = phone.CallAsync("+498912345", "192.168.77.10", 4000, "trunk-out-" + Guid.NewGuid().ToString("N"), "<sip:100@192.168.77.10:5060>");
        var (atProvider, from) = await provider.RequestAsync("INVITE");
        Assert.DoesNotContain("192.168.77.10", Encoding.ASCII.GetString(atProvider.Body));
        await provider.RespondAsync(atProvider, 200, from, RawPhone.Sdp("127.0.0.1", 40022));
        var (sent, final) = await calling;
        Assert.Equal(200, final.StatusCode);
        Assert.NotEqual(40022, PortOf(final.Body));
        await phone.AckAsync(sent, final);
    }

    private static int PortOf(byte[] sdp)
    {
        foreach (var line in Encoding.ASCII.GetString(sdp).Split("\r\n"))
            if (line.StartsWith("m=audio ", StringComparison.Ordinal)) return int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Fail("no m=audio line");
        return 0;
    }
}
