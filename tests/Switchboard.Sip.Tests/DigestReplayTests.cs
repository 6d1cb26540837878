using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Tests;

/// <summary>Digest answers that were captured on the wire and played again, moved to another request or kept too long.</summary>
public sealed class DigestReplayTests
{
    private static readonly SipEndPoint Phone = new(SipProtocol.Udp, new IPEndPoint(IPAddress.Parse("192.0.2.10"), 5062));
    private static readonly SipEndPoint Attacker = new(SipProtocol.Udp, new IPEndPoint(IPAddress.Parse("198.51.100.66"), 5062));

    private static SipRequest Request(string method, string uri, string callId = "c1")
    {
        var r = new SipRequest(method, uri);
        r.Add(SipHeaderNames.Via, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK" + Guid.NewGuid().ToString("N"));
        r.Add(SipHeaderNames.From, "<sip:100@h>;tag=a");
        r.Add(SipHeaderNames.To, "<sip:101@h>");
        r.Add(SipHeaderNames.CallId, callId);
        r.Add(SipHeaderNames.CSeq, $"2 {method}");
        return r;
    }

    /// <summary>A phone's authorised request: challenged for <paramref name="source"/>, answered with the password.</summary>
    private static SipRequest Authorised(DigestServer server, SipEndPoint source, string method, string uri, int nc = 1)
    {
        var req = Request(method, uri);
        var challenge = SipResponse.For(req, 401);
        server.Challenge(challenge, source);
        Assert.True(DigestClient.Answer(challenge, req, "100", "pw", nc));
        return req;
    }

    /// <summary>The same credentials on a new request (new branch, as an attacker would send it).</summary>
    private static SipRequest Replay(SipRequest captured, string? uri = null)
    {
        var copy = Request(captured.Method, uri ?? captured.Uri);
        copy.Add(SipHeaderNames.Authorization, captured[SipHeaderNames.Authorization]!);
        return copy;
    }

    private static DigestResult Check(DigestServer server, SipRequest req, SipEndPoint source) => server.Check(req, source, u => u == "100" ? "pw" : null);

    [Fact]
    public void An_invite_answer_replayed_from_another_address_is_challenged_again()
    {
        var server = new DigestServer("realm", new FakeTimeProvider());
        var captured = Authorised(server, Phone, "INVITE", "sip:0891234567@pbx");
        Assert.Equal(DigestVerdict.Valid, Check(server, captured, Phone).Verdict);

        var replayed = Check(server, Replay(captured), Attacker);
        Assert.Equal(DigestVerdict.Stale, replayed.Verdict);
        Assert.Equal(DigestRejection.ForeignNonce, replayed.Reason);
    }

    [Fact]
    public void The_same_answer_again_from_the_same_address_is_a_reused_nonce_count()
    {
        var server = new DigestServer("realm", new FakeTimeProvider());
        var captured = Authorised(server, Phone, "INVITE", "sip:0891234567@pbx");
        Assert.Equal(DigestVerdict.Valid, Check(server, captured, Phone).Verdict);
        var again = Check(server, Replay(captured), Phone);
        Assert.Equal(DigestVerdict.Stale, again.Verdict);
        Assert.Equal(DigestRejection.NonceCountReused, again.Reason);
    }

    [Fact]
    public void A_phone_counting_up_on_one_nonce_is_accepted_and_a_count_going_back_is_not()
    {
        var server = new DigestServer("realm", new FakeTimeProvider());
        var first = Request("INVITE", "sip:101@pbx");
        var challenge = SipResponse.For(first, 407);
        server.Challenge(challenge, Phone);
        foreach (var nc in new[] { 1, 2, 5 })
        {
            var req = Request("INVITE", "sip:101@pbx");
            DigestClient.Answer(challenge, req, "100", "pw", nc);
            Assert.Equal(DigestVerdict.Valid, Check(server, req, Phone).Verdict);
        }
        var back = Request("INVITE", "sip:101@pbx");
        DigestClient.Answer(challenge, back, "100", "pw", 3);
        Assert.Equal(DigestRejection.NonceCountReused, Check(server, back, Phone).Reason);
    }

    [Fact]
    public void Credentials_moved_to_another_request_uri_are_a_bad_request()
    {
        var server = new DigestServer("realm", new FakeTimeProvider());
        var captured = Authorised(server, Phone, "INVITE", "sip:101@pbx");
        var moved = Check(server, Replay(captured, uri: "sip:0019005551234@pbx"), Phone);
        Assert.Equal(DigestVerdict.BadRequest, moved.Verdict);
        Assert.Equal(DigestRejection.UriMismatch, moved.Reason);
    }

    [Fact]
    public void A_register_needs_a_nonce_of_its_own_and_a_replayed_one_is_stale()
    {
        var server = new DigestServer("realm", new FakeTimeProvider());
        var captured = Authorised(server, Phone, "REGISTER", "sip:pbx");
        Assert.Equal(DigestVerdict.Valid, Check(server, captured, Phone).Verdict);
        // Same address, even a higher nonce count: a REGISTER nonce serves once.
        var again = Check(server, Replay(captured), Phone);
        Assert.Equal(DigestVerdict.Stale, again.Verdict);
        Assert.Equal(DigestRejection.NonceSpent, again.Reason);
        var refresh = Request("REGISTER", "sip:pbx");
        var ch = SipResponse.For(refresh, 401);
        ch.Add(SipHeaderNames.WwwAuthenticate, $"Digest realm=\"realm\", nonce=\"{DigestHeader.Parse(captured[SipHeaderNames.Authorization]!)!["nonce"]}\", qop=\"auth\"");
        DigestClient.Answer(ch, refresh, "100", "pw", 2);
        Assert.Equal(DigestRejection.NonceSpent, Check(server, refresh, Phone).Reason);
        // A fresh challenge works.
        Assert.Equal(DigestVerdict.Valid, Check(server, Authorised(server, Phone, "REGISTER", "sip:pbx"), Phone).Verdict);
    }

    [Fact]
    public void Nonces_live_thirty_seconds_then_a_right_answer_is_stale_and_a_wrong_one_invalid()
    {
        var time = new FakeTimeProvider();
        var server = new DigestServer("realm", time);
        var req = Authorised(server, Phone, "INVITE", "sip:101@pbx");
        time.Advance(TimeSpan.FromSeconds(31));
        var late = Check(server, req, Phone);
        Assert.Equal(DigestVerdict.Stale, late.Verdict);
        Assert.Equal(DigestRejection.ExpiredNonce, late.Reason);
        Assert.Equal(DigestVerdict.Invalid, server.Check(req, Phone, _ => "other").Verdict);
        var challenge = SipResponse.For(req, 407);
        server.Challenge(challenge, Phone, stale: true);
        Assert.Contains("stale=true", challenge[SipHeaderNames.ProxyAuthenticate], StringComparison.Ordinal);
    }

    [Fact]
    public void Auth_int_covers_the_body_when_offered()
    {
        var server = new DigestServer("realm", new FakeTimeProvider()) { OfferAuthInt = true };
        var req = Request("INVITE", "sip:101@pbx");
        req.Body = Encoding.ASCII.GetBytes("v=0\r\n");
        var challenge = SipResponse.For(req, 407);
        server.Challenge(challenge, Phone);
        Assert.Contains("qop=\"auth,auth-int\"", challenge[SipHeaderNames.ProxyAuthenticate], StringComparison.Ordinal);
        var nonce = DigestHeader.Parse(challenge[SipHeaderNames.ProxyAuthenticate]!)!["nonce"]!;
        string Header(byte[] body) =>
            $"Digest username=\"100\", realm=\"realm\", nonce=\"{nonce}\", uri=\"{req.Uri}\", qop=auth-int, nc=00000001, cnonce=\"cn\", response=\"" +
            DigestAlgorithms.ResponseAuthInt("MD5", "100", "realm", "pw", "INVITE", req.Uri, nonce, "00000001", "cn", body) + "\"";
        req.Add(SipHeaderNames.ProxyAuthorization, Header(req.Body));
        Assert.Equal(DigestVerdict.Valid, Check(server, req, Phone).Verdict);

        var tampered = Request("INVITE", "sip:101@pbx");
        tampered.Body = Encoding.ASCII.GetBytes("v=0\r\nc=IN IP4 198.51.100.66\r\n");
        tampered.Add(SipHeaderNames.ProxyAuthorization, Header(req.Body));
        Assert.Equal(DigestRejection.WrongPassword, Check(server, tampered, Phone).Reason);

        var plain = new DigestServer("realm", new FakeTimeProvider());
        Assert.Equal(DigestRejection.UnsupportedQop, Check(plain, req, Phone).Reason);
    }

    [Fact]
    public void The_default_table_holds_a_busy_switchs_logins_for_a_whole_nonce_lifetime()
    {
        // 1,200 authenticated calls a second for 25 s (30,000 fresh nonces, all still alive) must not be re-challenged.
        var time = new FakeTimeProvider();
        var server = new DigestServer("realm", time);
        for (int i = 0; i < 30_000; i++)
        {
            if (i % 1_200 == 0) time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(DigestVerdict.Valid, Check(server, Authorised(server, Phone, "INVITE", "sip:101@pbx"), Phone).Verdict);
        }
        Assert.Equal(30_000, server.TrackedNonces);
    }

    [Fact]
    public void The_table_of_used_nonces_is_bounded()
    {
        var time = new FakeTimeProvider();
        var server = new DigestServer("realm", time) { MaxTrackedNonces = 100 };
        for (int i = 0; i < 100; i++) Assert.Equal(DigestVerdict.Valid, Check(server, Authorised(server, Phone, "INVITE", "sip:101@pbx"), Phone).Verdict);
        Assert.Equal(100, server.TrackedNonces);
        Assert.Equal(DigestRejection.NonceTableFull, Check(server, Authorised(server, Phone, "INVITE", "sip:101@pbx"), Phone).Reason);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(DigestVerdict.Valid, Check(server, Authorised(server, Phone, "INVITE", "sip:101@pbx"), Phone).Verdict);
        Assert.Equal(1, server.TrackedNonces);
    }
}
