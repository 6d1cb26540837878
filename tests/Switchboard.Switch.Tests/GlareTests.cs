using System.Globalization;
using System.Text;
using Switchboard.Sip.Messages;
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

    [Fact]
    public async Task A_second_reinvite_while_the_first_is_being_answered_gets_500_with_retry_after()
    {
        await using var f = new SwitchFixture();
        var sdp = "v=0\r\no=- 1 {0} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40100 RTP/AVP 0\r\na={1}\r\n";
        using var phone101 = new ScriptedPhone("101", "pw101", f.Switch.LocalEndPoint);
        SipResponse Ok(SipRequest r, string direction)
        {
            var ok = SipResponse.For(r, 200, toTag: "p101");
            ok.Add(SipHeaderNames.Contact, $"<sip:101@127.0.0.1:{phone101.Port}>");
            ok.Add(SipHeaderNames.ContentType, "application/sdp");
            ok.Body = Encoding.ASCII.GetBytes(string.Format(CultureInfo.InvariantCulture, sdp, 1, direction));
            return ok;
        }

        // 101 answers its call at once, but the re-INVITE relayed to it only when the test lets it.
        var answerReinvite = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        phone101.Responder = async r =>
        {
            if (r.Method != "INVITE") return SipResponse.For(r, 200);
            if (r.To.Tag is null) return Ok(r, "sendrecv");
            await answerReinvite.Task;
            return Ok(r, "recvonly");
        };
        using (var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", phone101.Port.ToString(CultureInfo.InvariantCulture), "-key", "expect", "200"))
            Assert.Equal(0, (await reg.ExitAsync()).Code);
        using var phone100 = new ScriptedPhone("100", "pw100", f.Switch.LocalEndPoint);
        var call = await phone100.CallAsync("101", "pending-reinvite-1");

        SipRequest Reinvite(int version)
        {
            var r = phone100.InDialog("INVITE", call);
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = Encoding.ASCII.GetBytes(string.Format(CultureInfo.InvariantCulture, sdp, version, "sendonly"));
            return r;
        }

        // The first re-INVITE (100 holds) is relayed to 101, which has not answered it yet.
        var first = Reinvite(2);
        var firstAnswer = phone100.SendAsync(first);
        await phone101.WaitRequestAsync("INVITE");
        for (int i = 0; i < 500 && phone101.Received("INVITE") < 2; i++) await Task.Delay(20);
        Assert.Equal(2, phone101.Received("INVITE"));

        // RFC 3261 §14.2: the second gets 500 with a Retry-After of 0 to 10 seconds, at once and without reaching 101.
        var second = await phone100.SendAsync(Reinvite(3));
        Assert.Equal(500, second.StatusCode);
        var retryAfter = int.Parse(second["Retry-After"]!, CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 0, 10);
        Assert.Equal(2, phone101.Received("INVITE"));

        // The first one is still answered once 101 answers.
        answerReinvite.SetResult();
        var ok = await firstAnswer;
        Assert.Equal(200, ok.StatusCode);
        await phone100.AckAsync(first, ok);
        Assert.Equal(ReplyCode.Ok, (await f.Switch.DropAsync("100")).Code);
    }
}
