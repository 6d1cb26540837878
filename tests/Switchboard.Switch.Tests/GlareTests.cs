using System.Globalization;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>
/// A re-INVITE of the switch that crosses one of the phone (glare) is answered 491 by the phone; the switch retries
/// after the wait of RFC 3261 §14.1 instead of giving up. 100 is the scripted phone of the attended-transfer tests
/// (it calls 101), 101 a real sipp phone that answers the first re-INVITE with 491.
/// </summary>
public sealed class GlareTests
{
    [Fact]
    public async Task Hold_whose_reinvite_meets_a_491_is_retried_and_the_call_is_held()
    {
        await using var f = new SwitchFixture();
        int p101 = Ports.FreeUdp();
        using var phone101 = Sipp.Start("uas_reinvite_glare.xml", p101, null);
        using (var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", p101.ToString(CultureInfo.InvariantCulture), "-key", "expect", "200"))
            Assert.Equal(0, (await reg.ExitAsync()).Code);
        using var phone = new ScriptedPhone("100", "pw100", f.Switch.LocalEndPoint);
        await phone.CallAsync("101", "glare-call-1");
        // The switch uses a call for a re-INVITE only once the caller's ACK is in (RFC 3261 §14.2).
        for (int i = 0; i < 100 && f.Model.FirstInState("100", ConnectionState.Connected) is null; i++) await Task.Delay(20);
        await Task.Delay(300);

        // 101 holds: the scripted phone is offered sendonly, then 101's own phone inactive, which it first meets with 491.
        var hold = await f.Switch.HoldAsync("101");
        var id = Assert.Single(f.Model.ConnectionsOf("101")).Call.Id;
        Assert.Equal($"Hold 101: call {id} held", hold.Message);
        Assert.NotNull(f.Model.FirstInState("101", ConnectionState.Held));

        Assert.Equal(ReplyCode.Ok, (await f.Switch.DropAsync("101")).Code);
        var (code, output) = await phone101.ExitAsync();
        Assert.True(code == 0, "101: " + output);
    }
}
