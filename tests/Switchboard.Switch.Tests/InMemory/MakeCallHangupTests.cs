using System.Net;
using Switchboard.Sip.Messages;
using Switchboard.Telephony;
using Switchboard.Testing;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests.InMemory;

/// <summary>
/// MakeCall whose destination hangs up at once (issue 12's load test), one call at a time on the in-memory transport:
/// what the caller's phone sees on the wire when the destination's BYE comes the moment its ACK is in, and when a
/// destination sends the BYE of the call before (what the call-alloc bench's fake phone did, which looked like a stuck call).
/// </summary>
public sealed class MakeCallHangupTests
{
    [Fact]
    public async Task A_destination_that_hangs_up_on_its_ACK_gets_200_and_the_callers_phone_gets_a_BYE()
    {
        await using var s = new InMemorySwitch();
        var a = await s.PhoneAsync("100");
        var b = await s.PhoneAsync("101");

        var (callerInvite, _, bInvite, _) = await ConnectAsync(s, a, b);
        // No wait between the ACK and the BYE: the BYE reaches the switch while it may still be finishing the answer.
        var bye = ByeFrom(b, bInvite);
        await b.SendAsync(bye);

        Assert.Equal(200, (await b.ResponseAsync(bye)).StatusCode);
        var (byeAtCaller, byeFrom) = await a.RequestAsync("BYE");
        Assert.Equal(callerInvite.CallId, byeAtCaller.CallId);
        await a.RespondAsync(byeAtCaller, 200, byeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the call cleared");
    }

    [Fact]
    public async Task A_BYE_of_the_destinations_previous_call_gets_481_and_leaves_the_call_up_until_its_own_BYE()
    {
        await using var s = new InMemorySwitch();
        var a = await s.PhoneAsync("100");
        var b = await s.PhoneAsync("101");

        var (_, _, firstB, _) = await ConnectAsync(s, a, b);
        var first = ByeFrom(b, firstB);
        await b.SendAsync(first);
        Assert.Equal(200, (await b.ResponseAsync(first)).StatusCode);
        var (firstByeAtCaller, firstByeFrom) = await a.RequestAsync("BYE");
        await a.RespondAsync(firstByeAtCaller, 200, firstByeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the first call cleared");

        var (secondA, _, secondB, _) = await ConnectAsync(s, a, b);
        // The phone hangs up the dialog it answered before (its last ACK was still the first call's): that dialog is gone.
        var stale = ByeFrom(b, firstB);
        await b.SendAsync(stale);
        Assert.Equal(481, (await b.ResponseAsync(stale)).StatusCode);
        Assert.Equal(ConnectionState.Connected, s.Model.FirstInState("100", ConnectionState.Connected)?.State);
        Assert.Equal(ConnectionState.Connected, s.Model.FirstInState("101", ConnectionState.Connected)?.State);

        var own = ByeFrom(b, secondB);
        await b.SendAsync(own);
        Assert.Equal(200, (await b.ResponseAsync(own)).StatusCode);
        var (byeAtCaller, byeFrom) = await a.RequestAsync("BYE");
        Assert.Equal(secondA.CallId, byeAtCaller.CallId);
        await a.RespondAsync(byeAtCaller, 200, byeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the second call cleared");
    }

    /// <summary>MakeCall 100 101, both phones answer; returns once the destination has its ACK.</summary>
    private static async Task<(SipRequest CallerInvite, IPEndPoint CallerFrom, SipRequest DestinationInvite, IPEndPoint DestinationFrom)> ConnectAsync(
        InMemorySwitch s, RawPhone a, RawPhone b)
    {
        var made = await s.Switch.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Ok, made.Code);
        var (aInvite, aFrom) = await a.RequestAsync("INVITE");
        await a.RespondAsync(aInvite, 200, aFrom, RawPhone.Sdp("127.0.0.1", 4000), toTag: "a" + aInvite.CallId[..8]);
        await AckOfAsync(a, aInvite);
        var (bInvite, bFrom) = await b.RequestAsync("INVITE");
        await b.RespondAsync(bInvite, 200, bFrom, RawPhone.Sdp("127.0.0.1", 4002), toTag: "b" + bInvite.CallId[..8]);
        await AckOfAsync(b, bInvite);
        return (aInvite, aFrom, bInvite, bFrom);
    }

    /// <summary>Waits for the ACK of this very INVITE (an ACK of an earlier call's retransmitted 2xx does not count).</summary>
    private static async Task AckOfAsync(RawPhone phone, SipRequest invite)
    {
        while (true)
        {
            var (ack, _) = await phone.RequestAsync("ACK");
            if (ack.CallId == invite.CallId) return;
        }
    }

    /// <summary>The BYE the phone that answered <paramref name="invite"/> sends for that dialog.</summary>
    private static SipRequest ByeFrom(RawPhone phone, SipRequest invite)
    {
        var contact = NameAddress.Parse(invite[SipHeaderNames.Contact] ?? "").Uri;
        return phone.NewRequest("BYE", contact, invite.CallId, "b" + invite.CallId[..8], invite[SipHeaderNames.From]!);
    }
}
