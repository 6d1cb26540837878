using Switchboard.Sip.Messages;
using Switchboard.Telephony;
using Switchboard.Testing;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests.InMemory;

/// <summary>Features of the switch over the in-memory SIP transport: the same bytes as on the wire, no SIP ports.</summary>
public sealed class InMemoryCallTests
{
    [Fact]
    public async Task A_phone_dialling_a_number_nothing_routes_gets_404_and_the_journal_records_it_not_found()
    {
        await using var s = new InMemorySwitch();
        var phone = await s.PhoneAsync("100");

        var (_, final) = await phone.CallAsync("555", "127.0.0.1", 4000, "unrouted-1");

        Assert.Equal((404, "Not Found (no such extension)"), (final.StatusCode, final.Reason));
        var row = await JournalRowAsync(s, r => r.Ended is not null);
        Assert.Equal(("100", "555", CallOutcome.NotFound, (DateTimeOffset?)null), (row.Calling, row.Called, row.Outcome, row.Answered));
    }

    [Fact]
    public async Task A_call_rings_is_answered_hung_up_and_journalled_completed()
    {
        await using var s = new InMemorySwitch();
        var caller = await s.PhoneAsync("100");
        var callee = await s.PhoneAsync("101");

        var calling = caller.CallAsync("101", "127.0.0.1", 4000, "call-1");
        var (invite, from) = await callee.RequestAsync("INVITE");
        Assert.StartsWith("sip:101@", invite.Uri);
        await callee.RespondAsync(invite, 180, from);
        await callee.RespondAsync(invite, 200, from, RawPhone.Sdp("127.0.0.1", 4002));
        var (sent, answered) = await calling;
        Assert.Equal(200, answered.StatusCode);
        await caller.AckAsync(sent, answered);
        await callee.RequestAsync("ACK");

        var bye = caller.NewRequest("BYE", sent.Uri, sent.CallId, "call100", answered[SipHeaderNames.To]!);
        await caller.SendAsync(bye);
        var (byeAtCallee, byeFrom) = await callee.RequestAsync("BYE");
        await callee.RespondAsync(byeAtCallee, 200, byeFrom);
        Assert.Equal(200, (await caller.ResponseAsync(bye)).StatusCode);

        var row = await JournalRowAsync(s, r => r.Ended is not null);
        Assert.Equal(("100", "101", "101", CallOutcome.Completed), (row.Calling, row.Called, row.AnsweredBy, row.Outcome));
    }

    [Fact]
    public async Task A_makecall_dropped_while_the_destination_rings_is_journalled_cancelled_not_completed()
    {
        await using var s = new InMemorySwitch();
        var a = await s.PhoneAsync("100");
        var b = await s.PhoneAsync("101");

        var made = await s.Switch.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Ok, made.Code);
        var (first, firstFrom) = await a.RequestAsync("INVITE");
        await a.RespondAsync(first, 200, firstFrom, RawPhone.Sdp("127.0.0.1", 4000));
        var (second, secondFrom) = await b.RequestAsync("INVITE");
        await b.RespondAsync(second, 180, secondFrom);
        await Poll.UntilAsync(() => s.Model.FirstInState("101", ConnectionState.Alerting) is not null, "101 alerting");

        var dropped = await s.Switch.DropAsync("100");
        Assert.Equal(ReplyCode.Ok, dropped.Code);

        var row = await JournalRowAsync(s, r => r.Ended is not null);
        Assert.Equal(("100", "101", (DateTimeOffset?)null, CallOutcome.Cancelled), (row.Calling, row.Called, row.Answered, row.Outcome));
    }

    private static async Task<CallJournalEntry> JournalRowAsync(InMemorySwitch s, Func<CallJournalEntry, bool> done)
    {
        var rows = await Poll.ForAsync(() => Task.FromResult(s.Store.Recent(1)), r => r.Count == 1 && done(r[0]), seconds: 10);
        Assert.True(rows.Count == 1 && done(rows[0]), $"journal: {string.Join("; ", rows)}");
        return rows[0];
    }
}
