using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Switchboard.Telephony;

namespace Switchboard.Webhooks.Tests;

/// <summary>Webhooks to real local HTTP receivers (Kestrel), driven by calls on the simulated phone system.</summary>
public sealed class WebhookDeliveryTests
{
    private static JsonElement Json(ReceivedPost p) => JsonDocument.Parse(p.Body).RootElement;

    private static string Type(ReceivedPost p) => Json(p).GetProperty("type").GetString()!;

    /// <summary>The signature as a receiver computes it, written out here rather than taken from the code under test.</summary>
    private static string ExpectedSignature(string secret, ReceivedPost p)
    {
        var signed = Encoding.ASCII.GetBytes(p.Header("X-Switchboard-Timestamp") + ".").Concat(p.Body).ToArray();
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    private static async Task AnsweredAndHungUpAsync(Harness h, string caller, string called)
    {
        Assert.True((await h.Phones.MakeCallAsync(caller, called)).IsSuccess);
        Assert.True((await h.Phones.AnswerAsync(called)).IsSuccess);
        Assert.True((await h.Phones.DropAsync(caller)).IsSuccess);
    }

    [Fact]
    public async Task Ringing_answered_and_ended_arrive_signed_in_order_and_ended_carries_the_journal_row()
    {
        await using var crm = await Receiver.StartAsync();
        var options = Harness.Options("crm", crm.Url);
        await using var h = await Harness.StartAsync(options);

        await AnsweredAndHungUpAsync(h, "100", "101");
        await Poll.UntilAsync(() => crm.Posts.Count >= 3, "three POSTs");
        var posts = crm.Posts.ToArray();
        Assert.Equal(["call.ringing", "call.answered", "call.ended"], posts.Select(Type));

        foreach (var p in posts)
        {
            Assert.Equal(ExpectedSignature(options.Secret, p), p.Header("X-Switchboard-Signature"));
            Assert.True(WebhookSignature.Verify(options.Secret, p.Header("X-Switchboard-Timestamp"), p.Header("X-Switchboard-Signature"), p.Body,
                DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
            Assert.False(WebhookSignature.Verify("another-secret-0123456789", p.Header("X-Switchboard-Timestamp"), p.Header("X-Switchboard-Signature"), p.Body,
                DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
            Assert.Equal(Type(p), p.Header("X-Switchboard-Event"));
            Assert.Equal(Json(p).GetProperty("id").GetString(), p.Header("X-Switchboard-Delivery"));
            Assert.StartsWith("application/json", p.Header("Content-Type"));
        }

        var ringing = Json(posts[0]);
        Assert.Equal("101", ringing.GetProperty("device").GetString());
        Assert.Equal("100", ringing.GetProperty("calling").GetString());
        var callId = ringing.GetProperty("callId").GetString();
        Assert.Equal("101", Json(posts[1]).GetProperty("device").GetString());

        var row = Json(posts[2]).GetProperty("journal");
        var stored = h.Store.Recent(1).Single();
        Assert.Equal(callId, stored.CallId);
        Assert.Equal(stored.CallId, row.GetProperty("callId").GetString());
        Assert.Equal(stored.Calling, row.GetProperty("calling").GetString());
        Assert.Equal(stored.Called, row.GetProperty("called").GetString());
        Assert.Equal(stored.AnsweredBy, row.GetProperty("answeredBy").GetString());
        Assert.Equal(stored.Outcome.ToString(), row.GetProperty("outcome").GetString());
        Assert.Equal("Completed", row.GetProperty("outcome").GetString());
        Assert.Equal(stored.Started, row.GetProperty("started").GetDateTimeOffset());
        Assert.Equal(stored.Answered, row.GetProperty("answered").GetDateTimeOffset());
        Assert.Equal(stored.Ended, row.GetProperty("ended").GetDateTimeOffset());
    }

    [Fact]
    public async Task Answered_and_ended_never_overtake_the_ringing_of_a_call_even_in_a_burst()
    {
        await using var crm = await Receiver.StartAsync();
        await using var h = await Harness.StartAsync(Harness.Options("crm", crm.Url));

        // Whole calls in one go, faster than the dispatcher reads the event stream: the journal's answered and ended
        // notices are queued long before their call's ringing event is read.
        const int calls = 20;
        for (int i = 0; i < calls; i++)
        {
            var caller = h.Model.StartCall("100", "101");
            var ringing = h.Model.AddParty(caller.Call, "101", ConnectionState.Alerting, CallEventType.Delivered);
            h.Model.Establish(ringing);
            h.Model.Clear(caller, "normal");
        }
        await Poll.UntilAsync(() => crm.Posts.Count >= 3 * calls, "three POSTs per call");
        foreach (var call in crm.Posts.GroupBy(p => Json(p).GetProperty("callId").GetString()))
            Assert.Equal(["call.ringing", "call.answered", "call.ended"], call.Select(Type));
    }

    [Fact]
    public async Task A_broken_UTF16_caller_is_sent_as_a_replacement_character_and_later_calls_still_go_out()
    {
        await using var crm = await Receiver.StartAsync();
        await using var h = await Harness.StartAsync(Harness.Options("crm", crm.Url, WebhookEvents.Ringing));

        // A phone system handing over a broken UTF-16 caller (a lone surrogate), then an ordinary call.
        h.Events.Publish(CallEventType.Delivered, "102", "9000", ConnectionState.Alerting, "102", calling: "\ud800", called: "102");
        Assert.True((await h.Phones.MakeCallAsync("100", "101")).IsSuccess);
        await Poll.UntilAsync(() => crm.Posts.Count == 2, "both ringing POSTs");
        Assert.Equal(["\ufffd", "100"], crm.Posts.Select(p => Json(p).GetProperty("calling").GetString()));
    }

    [Fact]
    public void A_signature_over_a_changed_body_or_an_old_timestamp_does_not_verify()
    {
        var body = Encoding.UTF8.GetBytes("""{"type":"call.ringing","calling":"0891234"}""");
        var sig = WebhookSignature.Sign("s3cret-s3cret-s3cret", 1_800_000_000, body);
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_010);
        Assert.True(WebhookSignature.Verify("s3cret-s3cret-s3cret", "1800000000", sig, body, now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret-s3cret-s3cret", "1800000000", sig, Encoding.UTF8.GetBytes("""{"type":"call.ringing","calling":"0900666"}"""), now, TimeSpan.FromMinutes(5)));
        // The same POST replayed an hour later, or with its timestamp moved forward: both refused.
        Assert.False(WebhookSignature.Verify("s3cret-s3cret-s3cret", "1800000000", sig, body, now.AddHours(1), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret-s3cret-s3cret", "1800003600", sig, body, now.AddHours(1), TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task A_500_is_retried_with_the_same_delivery_id_and_a_fresh_signature()
    {
        await using var crm = await Receiver.StartAsync(n => (n == 1 ? 500 : 200, null));
        var options = Harness.Options("crm", crm.Url, WebhookEvents.Ringing);
        await using var h = await Harness.StartAsync(options);

        Assert.True((await h.Phones.MakeCallAsync("100", "101")).IsSuccess);
        await Poll.UntilAsync(() => h.Dispatcher.Stats["crm"].Delivered == 1, "the retry delivered");
        var posts = crm.Posts.ToArray();
        Assert.Equal(2, posts.Length);
        Assert.Equal(posts[0].Body, posts[1].Body);
        Assert.Equal(posts[0].Header("X-Switchboard-Delivery"), posts[1].Header("X-Switchboard-Delivery"));
        Assert.Equal(ExpectedSignature(options.Secret, posts[1]), posts[1].Header("X-Switchboard-Signature"));
        Assert.Equal(1, h.Dispatcher.Stats["crm"].Retries);
        Assert.Contains(h.Log.Lines, l => l.Id.Id == 2653 && l.Text.Contains("attempt 1 of 6 failed (HTTP 500)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_receiver_that_never_answers_delays_neither_the_call_nor_the_other_receiver()
    {
        await using var dead = await Receiver.StartAsync(_ => (null, null));
        await using var crm = await Receiver.StartAsync();
        await using var h = await Harness.StartAsync(Harness.Options("dead", dead.Url), Harness.Options("crm", crm.Url));
        using var watch = h.Events.Subscribe("101");

        Assert.True((await h.Phones.MakeCallAsync("100", "101")).IsSuccess);
        await Poll.UntilAsync(() => dead.Posts.Count == 1, "the dead receiver holding the first POST");
        Assert.True((await h.Phones.AnswerAsync("101")).IsSuccess);
        Assert.True((await h.Phones.DropAsync("100")).IsSuccess);

        // The call's events came as usual, and the other receiver has all three while the first POST to the dead one is
        // still open.
        var seen = new List<CallEventType>();
        while (watch.Reader.TryRead(out var ev)) seen.Add(ev.Type);
        Assert.Equal([CallEventType.Delivered, CallEventType.Established, CallEventType.ConnectionCleared], seen.Distinct());
        await Poll.UntilAsync(() => crm.Posts.Count == 3, "the other receiver's three POSTs");
        Assert.Equal(["call.ringing", "call.answered", "call.ended"], crm.Posts.Select(Type));
        Assert.Single(dead.Posts);
        Assert.Equal(0, h.Dispatcher.Stats["dead"].Delivered);
        Assert.Equal(2, h.Dispatcher.Stats["dead"].Queued);
    }

    [Fact]
    public async Task A_full_queue_drops_the_oldest_and_says_so_in_the_log_and_the_counts()
    {
        await using var dead = await Receiver.StartAsync(_ => (null, null));
        await using var h = await Harness.StartAsync(Harness.Options("slow", dead.Url, WebhookEvents.Ringing, queue: 2));

        Assert.True((await h.Phones.MakeCallAsync("100", "101")).IsSuccess);
        await Poll.UntilAsync(() => dead.Posts.Count == 1, "the first POST in flight");
        foreach (var (a, b) in new[] { ("102", "103"), ("104", "105"), ("101", "100"), ("103", "102") })
        {
            await h.Phones.DropAsync(a);
            await h.Phones.DropAsync(b);
            Assert.True((await h.Phones.MakeCallAsync(a, b)).IsSuccess, $"{a} calls {b}");
        }
        await Poll.UntilAsync(() => h.Dispatcher.Stats["slow"].Dropped == 2, "two dropped");
        Assert.Equal(2, h.Dispatcher.Stats["slow"].Queued);
        Assert.Contains(h.Log.Lines, l => l.Id.Id == 2652 && l.Text.Contains("queue full (2), oldest deliveries dropped: 1 since the last report", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_redirect_is_not_followed_to_another_host()
    {
        await using var elsewhere = await Receiver.StartAsync();
        await using var crm = await Receiver.StartAsync(_ => (307, elsewhere.Url.ToString()));
        await using var h = await Harness.StartAsync(Harness.Options("crm", crm.Url, WebhookEvents.Ringing));

        Assert.True((await h.Phones.MakeCallAsync("100", "101")).IsSuccess);
        await Poll.UntilAsync(() => h.Dispatcher.Stats["crm"].GivenUp == 1, "the delivery given up");
        Assert.Single(crm.Posts);
        Assert.Empty(elsewhere.Posts);
        Assert.Contains(h.Log.Lines, l => l.Id.Id == 2655 && l.Text.Contains("redirects are not followed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_receiver_gets_only_the_events_it_asked_for()
    {
        await using var log = await Receiver.StartAsync();
        await using var pop = await Receiver.StartAsync();
        await using var h = await Harness.StartAsync(Harness.Options("log", log.Url, WebhookEvents.Ended), Harness.Options("pop", pop.Url, WebhookEvents.Ringing));

        await AnsweredAndHungUpAsync(h, "102", "103");
        await Poll.UntilAsync(() => log.Posts.Count == 1 && pop.Posts.Count == 1, "one POST each");
        Assert.Equal("call.ended", Type(log.Posts.Single()));
        Assert.Equal("call.ringing", Type(pop.Posts.Single()));
    }
}
