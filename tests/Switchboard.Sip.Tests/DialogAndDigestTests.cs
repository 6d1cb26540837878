using System.Net;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Tests;

public class DialogAndDigestTests
{
    private static SipRequest Invite()
    {
        var r = new SipRequest("INVITE", "sip:101@10.0.0.1");
        r.Add(SipHeaderNames.Via, "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKa");
        r.Add(SipHeaderNames.RecordRoute, "<sip:p1;lr>");
        r.Add(SipHeaderNames.RecordRoute, "<sip:p2;lr>");
        r.Add(SipHeaderNames.From, "<sip:100@h>;tag=remote");
        r.Add(SipHeaderNames.To, "<sip:101@h>");
        r.Add(SipHeaderNames.CallId, "dlg");
        r.Add(SipHeaderNames.CSeq, "5 INVITE");
        r.Add(SipHeaderNames.Contact, "<sip:100@10.0.0.2:5062>");
        return r;
    }

    [Fact]
    public void Uas_dialog_keeps_route_set_target_and_cseq_order()
    {
        var d = SipDialog.ForIncoming(Invite(), "local", new SipEndPoint(SipProtocol.Udp, new IPEndPoint(IPAddress.Loopback, 5062)));
        var bye = d.NewRequest("BYE", "<sip:x@h>");
        Assert.Equal("sip:100@10.0.0.2:5062", bye.Uri);
        Assert.Equal(["<sip:p1;lr>", "<sip:p2;lr>"], bye.All(SipHeaderNames.Route));
        Assert.Equal("remote", bye.To.Tag);
        Assert.Equal("local", bye.From.Tag);

        var reinvite = Invite();
        reinvite.Set(SipHeaderNames.CSeq, "6 INVITE");
        reinvite.Set(SipHeaderNames.Contact, "<sip:100@10.0.0.9:5062>");
        Assert.True(d.OnRequest(reinvite));
        Assert.Equal("sip:100@10.0.0.9:5062", d.RemoteTarget);
        var old = Invite();
        old.Set(SipHeaderNames.CSeq, "4 INFO");
        Assert.False(d.OnRequest(old));
    }

    [Theory]
    [InlineData(DigestAlgorithms.Md5)]
    [InlineData(DigestAlgorithms.Sha256)]
    public void Digest_answers_verify_and_old_nonces_are_stale(string algorithm)
    {
        var time = new FakeTimeProvider();
        var server = new DigestServer("realm", time) { Algorithms = [algorithm] };
        var req = Invite();
        var challenge = SipResponse.For(req, 401);
        server.Challenge(challenge);
        Assert.Contains("algorithm=" + algorithm, challenge[SipHeaderNames.WwwAuthenticate]);
        Assert.True(DigestClient.Answer(challenge, req, "100", "pw"));
        Assert.Equal(DigestVerdict.Valid, server.Verify(req, u => u == "100" ? "pw" : null, out var user));
        Assert.Equal("100", user);
        Assert.Equal(DigestVerdict.Invalid, server.Verify(req, _ => "other", out _));
        time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(DigestVerdict.Stale, server.Verify(req, _ => "pw", out _));
        req.Set(SipHeaderNames.Authorization, req[SipHeaderNames.Authorization]!.Replace("nonce=\"", "nonce=\"x", StringComparison.Ordinal));
        Assert.Equal(DigestVerdict.Invalid, server.Verify(req, _ => "pw", out _));
    }

    [Fact]
    public void A_wrong_password_raises_Failed_with_the_user_and_source_and_a_right_one_does_not()
    {
        var server = new DigestServer("realm");
        var failures = new List<DigestFailure>();
        server.Failed += failures.Add;
        var source = new SipEndPoint(SipProtocol.Udp, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 5070));
        var req = Invite();
        var challenge = SipResponse.For(req, 407);
        server.Challenge(challenge, source);
        Assert.NotNull(challenge[SipHeaderNames.ProxyAuthenticate]);
        Assert.True(DigestClient.Answer(challenge, req, "100", "wrong"));
        Assert.Equal(DigestVerdict.Invalid, server.Verify(req, source, _ => "pw", out _));
        var failure = Assert.Single(failures);
        Assert.Equal("100", failure.User);
        Assert.Equal(source, failure.Source);
        Assert.Same(req, failure.Request);

        var good = Invite();
        Assert.True(DigestClient.Answer(challenge, good, "100", "pw"));
        Assert.Equal(DigestVerdict.Valid, server.Verify(good, source, _ => "pw", out _));
        Assert.Equal(DigestVerdict.Missing, server.Verify(Invite(), source, _ => "pw", out _));
        Assert.Single(failures);
    }

}
