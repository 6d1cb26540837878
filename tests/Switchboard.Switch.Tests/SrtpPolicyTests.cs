using System.Net;
using System.Text;
using Switchboard.Media.Srtp;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Trunks;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Telephony;

namespace Switchboard.Switch.Tests;

/// <summary>
/// SRTP policy <c>required</c> on the wire: raw phones on real TLS connections (and UDP) to a real switch. A required
/// phone's INVITE or re-INVITE without a usable key is refused with 488 and a Warning before anything is set up or
/// changed; an optional phone still connects with plain RTP.
/// </summary>
public sealed class SrtpPolicyTests
{
    private static readonly string Key = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80).ToString();

    private static byte[] PlainSdp(int port) => RawPhone.Sdp("127.0.0.1", port);

    private static byte[] KeyedSdp(int port, string profile = "RTP/SAVP") => Encoding.ASCII.GetBytes(
        $"v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} {profile} 0 101\r\n" +
        $"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:{Key}\r\na=sendrecv\r\n");

    private static string Text(SipMessage m) => Encoding.ASCII.GetString(m.Body);

    private static SwitchFixture RequiredFor100(ListLogger log) =>
        new(configure: o => o.DeviceSrtp["100"] = SrtpPolicy.Required, log: log);

    private static IPEndPoint Tls(SwitchFixture f) => new(IPAddress.Loopback, f.Switch.TlsEndPoint!.Port);

    private static IPEndPoint Udp(SwitchFixture f) => new(IPAddress.Loopback, f.Switch.LocalEndPoint.Port);

    /// <summary>An INVITE with <paramref name="sdp"/>, the 407 answered; the final response (ACKed when not 2xx).</summary>
    private static async Task<(SipRequest Invite, SipResponse Final)> InviteAsync(RawPhone phone, string target, byte[] sdp, string callId)
    {
        SipRequest Build()
        {
            var r = phone.NewRequest("INVITE", $"sip:{target}@{phone.Server}", callId, "call" + phone.Device, $"<sip:{target}@{phone.Server.Address}>", $"<sip:{phone.Device}@{phone.Local}>");
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = sdp;
            return r;
        }
        var first = Build();
        await phone.SendAsync(first);
        var challenge = await phone.ResponseAsync(first);
        await phone.AckAsync(first, challenge);
        var second = Build();
        Assert.True(DigestClient.Answer(challenge, second, phone.Device, phone.Password));
        await phone.SendAsync(second);
        var final = await phone.ResponseAsync(second);
        if (final.StatusCode >= 300) await phone.AckAsync(second, final);
        return (second, final);
    }

    /// <summary>A re-INVITE in the dialog the 200 <paramref name="ok"/> set up; the final response, ACKed.</summary>
    private static async Task<SipResponse> ReinviteAsync(RawPhone phone, SipRequest invite, SipResponse ok, byte[] sdp)
    {
        var target = NameAddress.Parse(ok[SipHeaderNames.Contact]!).Uri;
        var r = phone.NewRequest("INVITE", target, invite.CallId, invite.From.Tag!, ok[SipHeaderNames.To]!, $"<sip:{phone.Device}@{phone.Local}>");
        r.Add(SipHeaderNames.ContentType, "application/sdp");
        r.Body = sdp;
        await phone.SendAsync(r);
        var final = await phone.ResponseAsync(r);
        await phone.AckAsync(r, final);
        return final;
    }

    private static void AssertSrtpRefusal(SipResponse r, string because)
    {
        Assert.Equal(488, r.StatusCode);
        var warning = r[SipHeaderNames.Warning];
        Assert.NotNull(warning);
        Assert.StartsWith("399 127.0.0.1 \"SRTP is required for 100: ", warning, StringComparison.Ordinal);
        Assert.Contains(because, warning, StringComparison.Ordinal);
        Assert.EndsWith("\"", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_required_phone_on_tls_offering_plain_rtp_gets_488_with_a_warning_and_no_call_is_set_up()
    {
        var log = new ListLogger();
        await using var f = RequiredFor100(log);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", Udp(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        var (_, final) = await InviteAsync(caller, "101", PlainSdp(40100), "plain-" + Guid.NewGuid().ToString("N"));

        AssertSrtpRefusal(final, "the offer has no a=crypto key");
        Assert.Empty(f.Model.ConnectionsOf("100"));
        Assert.Empty(f.Model.ConnectionsOf("101"));
        Assert.Equal(0, f.Switch.ActiveCalls);
        Assert.Contains(log.Lines, l => l.EventId == 4020 && l.Text.Contains("100", StringComparison.Ordinal) && l.Text.Contains("NoCrypto", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_required_phone_on_udp_gets_488_even_with_a_key_since_keys_never_go_over_clear_signalling()
    {
        var log = new ListLogger();
        await using var f = RequiredFor100(log);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", Udp(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        var (_, final) = await InviteAsync(caller, "101", KeyedSdp(40102), "udp-" + Guid.NewGuid().ToString("N"));

        AssertSrtpRefusal(final, "keys are exchanged only over TLS");
        Assert.Empty(f.Model.ConnectionsOf("100"));
        Assert.Contains(log.Lines, l => l.EventId == 4020 && l.Text.Contains("NotOverTls", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_optional_phone_offering_plain_rtp_is_connected()
    {
        await using var f = new SwitchFixture(configure: o => o.DeviceSrtp["100"] = SrtpPolicy.Optional);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", Udp(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        var calling = InviteAsync(caller, "101", PlainSdp(40104), "optional-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        Assert.DoesNotContain("a=crypto", Text(invite), StringComparison.Ordinal);
        await callee.RespondAsync(invite, 200, from, PlainSdp(40106));
        var (_, final) = await calling;

        Assert.Equal(200, final.StatusCode);
        Assert.Equal(ConnectionState.Connected, f.Model.ConnectionsOf("100").Single().State);
    }

    [Fact]
    public async Task A_reinvite_dropping_the_key_in_an_anchored_required_call_gets_488_and_the_call_stays_as_it_was()
    {
        var log = new ListLogger();
        await using var f = RequiredFor100(log);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", Udp(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        // The callee is on UDP, so the keyed call is anchored: the switch terminates SRTP towards the caller.
        var calling = InviteAsync(caller, "101", KeyedSdp(40110), "anchored-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        await callee.RespondAsync(invite, 200, from, PlainSdp(40112));
        await callee.RequestAsync("ACK");
        var (callerInvite, ok) = await calling;
        Assert.Equal(200, ok.StatusCode);
        Assert.Contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", Text(ok), StringComparison.Ordinal);
        await caller.AckAsync(callerInvite, ok);
        Assert.Equal(1, f.Switch.SecureEndpoints);

        var refused = await ReinviteAsync(caller, callerInvite, ok, PlainSdp(40114));

        AssertSrtpRefusal(refused, "the offer has no a=crypto key");
        Assert.Contains(log.Lines, l => l.EventId == 4020 && l.Text.Contains("re-INVITE", StringComparison.Ordinal));
        Assert.Equal(1, f.Switch.SecureEndpoints);
        Assert.Equal(ConnectionState.Connected, f.Model.ConnectionsOf("100").Single().State);
        // The call goes on keyed: a re-INVITE with the key is answered with the switch's same key.
        var again = await ReinviteAsync(caller, callerInvite, ok, KeyedSdp(40110));
        Assert.Equal(200, again.StatusCode);
        Assert.Contains(Text(ok).Split("\r\n").Single(l => l.StartsWith("a=crypto:", StringComparison.Ordinal)), Text(again), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reinvite_dropping_the_key_in_a_direct_required_call_gets_488_and_is_not_relayed()
    {
        var log = new ListLogger();
        await using var f = RequiredFor100(log);
        await using var callee = await TlsLink.PhoneAsync("101", "pw101", Tls(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        // Both on TLS on one host: the media runs phone to phone, the keys pass through the switch.
        var calling = InviteAsync(caller, "101", KeyedSdp(40120), "direct-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        Assert.Contains("a=crypto:" + Key, Text(invite), StringComparison.Ordinal);
        await callee.RespondAsync(invite, 200, from, KeyedSdp(40122));
        await callee.RequestAsync("ACK");
        var (callerInvite, ok) = await calling;
        Assert.Equal(200, ok.StatusCode);
        await caller.AckAsync(callerInvite, ok);

        var refused = await ReinviteAsync(caller, callerInvite, ok, PlainSdp(40124));
        AssertSrtpRefusal(refused, "the offer has no a=crypto key");
        Assert.Equal(ConnectionState.Connected, f.Model.ConnectionsOf("100").Single().State);

        // The next re-INVITE the callee sees is the keyed one sent after the refusal: the plain one never reached it.
        var keyed = ReinviteAsync(caller, callerInvite, ok, KeyedSdp(40126));
        var (reinvite, reFrom) = await callee.RequestAsync("INVITE");
        Assert.Contains("m=audio 40126 RTP/SAVP", Text(reinvite), StringComparison.Ordinal);
        await callee.RespondAsync(reinvite, 200, reFrom, KeyedSdp(40122));
        Assert.Equal(200, (await keyed).StatusCode);
    }

    [Fact]
    public async Task A_required_phone_offering_its_key_as_an_rfc5939_potential_configuration_gets_rtp_savp_with_acfg()
    {
        var log = new ListLogger();
        await using var f = RequiredFor100(log);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", Udp(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);
        var capNeg = Encoding.ASCII.GetBytes(
            "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40130 RTP/AVP 0 101\r\n" +
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=tcap:1 RTP/SAVPF RTP/SAVP\r\n" +
            $"a=acap:1 crypto:{Key}\r\na=pcfg:1 t=1 a=1\r\na=pcfg:2 t=2 a=1\r\na=sendrecv\r\n");

        var calling = InviteAsync(caller, "101", capNeg, "capneg-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        // The callee is on UDP: the call is anchored and no key (not even one in a capability) reaches it.
        Assert.DoesNotContain("inline:", Text(invite), StringComparison.Ordinal);
        await callee.RespondAsync(invite, 200, from, PlainSdp(40132));
        var (_, ok) = await calling;

        Assert.Equal(200, ok.StatusCode);
        var answer = Text(ok);
        Assert.Contains(" RTP/SAVP 0 101\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", answer, StringComparison.Ordinal);
        Assert.Contains("a=acfg:2 t=2 a=1\r\n", answer, StringComparison.Ordinal);
        Assert.Equal(1, f.Switch.SecureEndpoints);
        Assert.DoesNotContain(log.Lines, l => l.EventId == 4020);
    }

    [Fact]
    public async Task An_optional_phone_on_tls_is_offered_rtp_savp_as_an_rfc5939_potential_configuration_and_may_answer_it()
    {
        await using var f = new SwitchFixture(configure: o => o.MediaAnchor = MediaAnchorMode.Always);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", Udp(f));
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);
        await using var callee = await TlsLink.PhoneAsync("100", "pw100", Tls(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);

        var calling = InviteAsync(caller, "100", PlainSdp(40140), "offer-capneg-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        var offer = Text(invite);
        var key = offer.Split("\r\n").Single(l => l.StartsWith("a=crypto:", StringComparison.Ordinal))[9..];
        Assert.Contains(" RTP/AVP ", offer, StringComparison.Ordinal);
        Assert.Contains("a=tcap:1 RTP/SAVP\r\na=acap:1 crypto:" + key + "\r\na=pcfg:1 t=1 a=1\r\n", offer, StringComparison.Ordinal);

        // A phone that takes only RTP/SAVP answers the potential configuration (RFC 5939 §3.6.2).
        var answer = Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(KeyedSdp(40142)).Replace("a=sendrecv\r\n", "a=acfg:1 t=1 a=1\r\na=sendrecv\r\n", StringComparison.Ordinal));
        await callee.RespondAsync(invite, 200, from, answer);
        var (_, ok) = await calling;

        Assert.Equal(200, ok.StatusCode);
        await Poll.UntilAsync(() => f.Switch.SecureEndpoints == 1, "the callee's endpoint to speak SRTP");
    }

    [Fact]
    public async Task A_call_from_a_required_trunk_offering_plain_rtp_gets_488_with_a_warning_on_the_wire()
    {
        // sipp plays the provider (UDP, plain RTP/AVP); the trunk's policy says SRTP is required.
        await using var f = new TrunkFixture(trunk: t => t.Srtp = SrtpPolicy.Required);
        var messages = Path.Combine(f.Dir, "provider.log");
        using (var provider = Sipp.Start("provider_call_in_fail.xml", f.UpstreamPort, f.Remote, "-s", "+4989555100",
            "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "expect", "488", "-trace_msg", "-message_file", messages))
        {
            var (code, output) = await provider.ExitAsync();
            Assert.True(code == 0, "provider: " + output);
        }
        var wire = File.ReadAllText(messages);
        Assert.Contains("SIP/2.0 488 Not Acceptable Here (SRTP required)", wire, StringComparison.Ordinal);
        Assert.Contains("Warning: 399 127.0.0.1 \"SRTP is required for provider: keys are exchanged only over TLS", wire, StringComparison.Ordinal);
        Assert.Empty(f.Model.ConnectionsOf("100"));
    }
}
