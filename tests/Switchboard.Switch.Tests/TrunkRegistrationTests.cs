using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Trunks;

namespace Switchboard.Switch.Tests;

/// <summary>The registration state machine against scripted upstream answers: challenge, refresh timing, back-off, 423.</summary>
public sealed class TrunkRegistrationTests
{
    private static Trunk NewTrunk(int expires = 600) => new TrunkRouter([new TrunkOptions
    {
        Name = "p", Host = "127.0.0.1", Port = 5080, Username = "acct", Password = "pw", Register = true, RegisterExpires = expires,
        RegisterRetrySeconds = 5, RegisterRetryMaxSeconds = 60,
    }]).Trunks[0];

    private static SipResponse Answer(SipRequest req, int code, params (string Name, string Value)[] headers)
    {
        var r = SipResponse.For(req, code);
        foreach (var (n, v) in headers) r.Add(n, v);
        return r;
    }

    [Fact]
    public async Task A_challenge_is_answered_and_the_binding_refreshed_at_half_its_lifetime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var sent = new List<SipRequest>();
        await using var reg = new TrunkRegistration(NewTrunk(), "<sip:acct@192.0.2.1:5060>", req =>
        {
            sent.Add(req);
            return Task.FromResult(req[SipHeaderNames.Authorization] is null
                ? Answer(req, 401, (SipHeaderNames.WwwAuthenticate, "Digest realm=\"up\", nonce=\"n1\", qop=\"auth\""))
                : Answer(req, 200, (SipHeaderNames.Contact, "<sip:other@192.0.2.9>;expires=99, <sip:acct@192.0.2.1:5060>;expires=600")));
        }, time, NullLogger.Instance);
        reg.Start();

        Assert.Equal(TrunkRegistrationState.Registered, reg.State);
        Assert.Equal(2, sent.Count);
        Assert.Equal("acct", DigestHeader.Parse(sent[1][SipHeaderNames.Authorization]!)!["username"]);
        Assert.Equal(sent[0].CallId, sent[1].CallId);
        Assert.Equal(sent[0].CSeq.Number + 1, sent[1].CSeq.Number);
        Assert.Equal("600", sent[0][SipHeaderNames.Expires]);
        Assert.Equal(TimeSpan.FromSeconds(600), reg.Granted);
        Assert.Equal(TimeSpan.FromSeconds(300), reg.NextAttemptIn);

        time.Advance(TimeSpan.FromSeconds(299));
        Assert.Equal(2, sent.Count);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(4, sent.Count);
        Assert.Equal(2, reg.Accepted);
    }

    [Fact]
    public async Task Failures_are_retried_with_doubling_back_off_up_to_the_maximum_and_recover()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        bool up = false;
        await using var reg = new TrunkRegistration(NewTrunk(), "<sip:acct@192.0.2.1:5060>",
            req => Task.FromResult(up ? Answer(req, 200) : SipResponse.For(req, 408, "Request Timeout")), time, NullLogger.Instance);
        reg.Start();
        var waits = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(TrunkRegistrationState.Failed, reg.State);
            waits.Add(reg.NextAttemptIn.TotalSeconds);
            time.Advance(reg.NextAttemptIn);
        }
        Assert.Equal([5, 10, 20, 40, 60, 60], waits);
        Assert.StartsWith("408", reg.LastError, StringComparison.Ordinal);
        up = true;
        time.Advance(reg.NextAttemptIn);
        Assert.Equal(TrunkRegistrationState.Registered, reg.State);
        Assert.Null(reg.LastError);
    }

    [Fact]
    public async Task Interval_too_brief_is_retried_with_the_upstreams_minimum()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var asked = new List<string?>();
        await using var reg = new TrunkRegistration(NewTrunk(expires: 30), "<sip:acct@192.0.2.1:5060>", req =>
        {
            asked.Add(req[SipHeaderNames.Expires]);
            return Task.FromResult(req[SipHeaderNames.Expires] == "30" ? Answer(req, 423, ("Min-Expires", "120")) : Answer(req, 200));
        }, time, NullLogger.Instance);
        reg.Start();
        Assert.Equal(["30", "120"], asked);
        Assert.Equal(TrunkRegistrationState.Registered, reg.State);
        Assert.Equal(TimeSpan.FromSeconds(60), reg.NextAttemptIn);
    }
}
