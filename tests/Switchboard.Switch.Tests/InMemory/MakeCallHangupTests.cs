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

        var (callerInvite, _, bInvite, _) = await ConnectAsync(s, a, b, [], untilConnected: false);
        // No wait between the ACK and the BYE: the BYE reaches the switch while it may still be finishing the answer.
        var bye = ByeFrom(b, bInvite);
        await b.SendAsync(bye);

        Assert.Equal(200, (await b.ResponseAsync(bye)).StatusCode);
        var (byeAtCaller, byeFrom) = await RequestOfAsync(a, "BYE", callerInvite.CallId);
        await a.RespondAsync(byeAtCaller, 200, byeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the call cleared");
    }

    [Fact]
    public async Task A_BYE_of_the_destinations_previous_call_gets_481_and_leaves_the_call_up_until_its_own_BYE()
    {
        await using var s = new InMemorySwitch();
        var a = await s.PhoneAsync("100");
        var b = await s.PhoneAsync("101");

        var seen = new HashSet<string>();
        var (firstA, _, firstB, _) = await ConnectAsync(s, a, b, seen);
        var first = ByeFrom(b, firstB);
        await b.SendAsync(first);
        Assert.Equal(200, (await b.ResponseAsync(first)).StatusCode);
        var (firstByeAtCaller, firstByeFrom) = await RequestOfAsync(a, "BYE", firstA.CallId);
        await a.RespondAsync(firstByeAtCaller, 200, firstByeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the first call cleared");

        var (secondA, _, secondB, _) = await ConnectAsync(s, a, b, seen);
        // The phone hangs up the dialog it answered before (its last ACK was still the first call's): that dialog is gone.
        var stale = ByeFrom(b, firstB);
        await b.SendAsync(stale);
        Assert.Equal(481, (await b.ResponseAsync(stale)).StatusCode);
        Assert.Equal(ConnectionState.Connected, s.Model.FirstInState("100", ConnectionState.Connected)?.State);
        Assert.Equal(ConnectionState.Connected, s.Model.FirstInState("101", ConnectionState.Connected)?.State);

        var own = ByeFrom(b, secondB);
        await b.SendAsync(own);
        Assert.Equal(200, (await b.ResponseAsync(own)).StatusCode);
        var (byeAtCaller, byeFrom) = await RequestOfAsync(a, "BYE", secondA.CallId);
        await a.RespondAsync(byeAtCaller, 200, byeFrom);
        await Poll.UntilAsync(() => s.Model.ConnectionsOf("100").Count == 0 && s.Model.ConnectionsOf("101").Count == 0, "the second call cleared");
    }

    /// <summary>
    /// MakeCall 100 101, both phones answer; returns once the destination has its ACK (and, with
    /// <paramref name="untilConnected"/>, the switch shows both connected). <paramref name="seen"/> holds the Call-IDs
    /// of the calls before, whose INVITEs may still come in as retransmissions on a loaded machine.
    /// </summary>
    private static async Task<(SipRequest CallerInvite, IPEndPoint CallerFrom, SipRequest DestinationInvite, IPEndPoint DestinationFrom)> ConnectAsync(
        InMemorySwitch s, RawPhone a, RawPhone b, HashSet<string> seen, bool untilConnected = true)
    {
        var made = await s.Switch.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Ok, made.Code);
        var (aInvite, aFrom) = await NewInviteAsync(a, seen);
        await a.RespondAsync(aInvite, 200, aFrom, RawPhone.Sdp("127.0.0.1", 4000), toTag: "a" + aInvite.CallId[..8]);
        await RequestOfAsync(a, "ACK", aInvite.CallId);
        var (bInvite, bFrom) = await NewInviteAsync(b, seen);
        await b.RespondAsync(bInvite, 200, bFrom, RawPhone.Sdp("127.0.0.1", 4002), toTag: "b" + bInvite.CallId[..8]);
        await RequestOfAsync(b, "ACK", bInvite.CallId);
        // The ACK leaves before the switch shows the call connected (both in the mixer, then Established).
        if (untilConnected)
        {
            await Poll.UntilAsync(() => s.Model.FirstInState("100", ConnectionState.Connected) is not null
                && s.Model.FirstInState("101", ConnectionState.Connected) is not null, "both shown connected");
        }
        return (aInvite, aFrom, bInvite, bFrom);
    }

    private static async Task<(SipRequest Request, IPEndPoint From)> NewInviteAsync(RawPhone phone, HashSet<string> seen)
    {
        while (true)
        {
            var (invite, from) = await phone.RequestAsync("INVITE");
            if (seen.Add(invite.CallId)) return (invite, from);
        }
    }

    /// <summary>The next <paramref name="method"/> request of this dialog (a retransmission of an earlier call's does not count).</summary>
    private static async Task<(SipRequest Request, IPEndPoint From)> RequestOfAsync(RawPhone phone, string method, string callId)
    {
        while (true)
        {
            var (request, from) = await phone.RequestAsync(method);
            if (request.CallId == callId) return (request, from);
        }
    }

    /// <summary>The BYE the phone that answered <paramref name="invite"/> sends for that dialog.</summary>
    private static SipRequest ByeFrom(RawPhone phone, SipRequest invite)
    {
        var contact = NameAddress.Parse(invite[SipHeaderNames.Contact] ?? "").Uri;
        return phone.NewRequest("BYE", contact, invite.CallId, "b" + invite.CallId[..8], invite[SipHeaderNames.From]!);
    }
}
