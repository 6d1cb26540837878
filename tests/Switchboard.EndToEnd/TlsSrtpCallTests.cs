using Switchboard.Sip.Transport;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Telephony;

namespace Switchboard.EndToEnd;

/// <summary>
/// Real baresip phones on SIP over TLS with <c>mediaenc=srtp</c> (SDES, AES_CM_128_HMAC_SHA1_80): they register over
/// the switch's TLS port (verifying its generated certificate), and their calls carry SRTP to and from the switch's
/// media endpoints, which bridge them to plain-RTP phones.
/// </summary>
public sealed class TlsSrtpCallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The account line of a phone that registers over TLS and asks for SRTP.</summary>
    private static string TlsAccount(SwitchboardServer server, string extension, string answerMode = "manual", string mediaenc = "srtp") =>
        $"<sip:{extension}@127.0.0.1:{server.Switch.TlsEndPoint!.Port};transport=tls>;auth_pass={server.Switch.PasswordOf(extension)};" +
        $"answermode={answerMode};mediaenc={mediaenc};regint=600";

    /// <summary>baresip's TLS settings: the srtp module, and the switch's generated certificate as the one CA it trusts.</summary>
    private IEnumerable<string> TlsConfig() => ["module\t\t\tsrtp.so", "sip_cafile\t\t" + Path.Combine(_dir, SipTlsCertificates.GeneratedCertificateFile)];

    private static void AssertSrtpOn(Baresip phone) =>
        Assert.True(phone.LogTail(4000).Contains("SRTP is Enabled", StringComparison.Ordinal), $"{phone.Name} did not switch SRTP on:\n{phone.LogTail()}");

    [Fact]
    public async Task An_srtp_phone_on_tls_calls_a_plain_rtp_phone_and_each_hears_the_other_through_the_switch()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("s100", _dir, TlsAccount(server, "100"), "tone:440", extraConfig: TlsConfig());
        await using var bob = await Baresip.StartAsync("s101", _dir, server.Account("101"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        Assert.Equal(["tls"], server.Switch.RegisteredTransports("100"));
        Assert.Equal(["udp"], server.Switch.RegisteredTransports("101"));

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.Switch.TlsEndPoint!.Port};transport=tls");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Equal(ConnectionState.Connected, server.Switch.Model.ConnectionsOf("100").Single().State);
        // Anchored: alice's leg of the switch speaks SRTP, bob's plain RTP.
        Assert.Equal(1, server.Switch.SecureEndpoints);
        await Task.Delay(2500);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        AssertSrtpOn(alice);
        Assert.Equal(1000, alice.ReceivedFrequency());
        Assert.Equal(440, bob.ReceivedFrequency());
    }

    [Fact]
    public async Task A_plain_phone_calls_an_srtp_required_phone_on_tls_and_the_switch_offers_it_rtp_savp_with_a_key()
    {
        // srtp-mand accepts only RTP/SAVP: the device's policy says so (an optional offer, RTP/AVP with a key, is
        // refused by such a phone with 488, as SDP has no way to offer both without capability negotiation).
        await using var server = await SwitchboardServer.StartAsync(_dir, new() { ["Sip:DeviceSrtp:101"] = "Required" });
        await using var alice = await Baresip.StartAsync("r100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("r101", _dir, TlsAccount(server, "101", mediaenc: "srtp-mand"), "tone:1000", extraConfig: TlsConfig());
        await server.WaitRegisteredAsync("100", "101");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        AssertSrtpOn(bob);
        Assert.Equal(1000, alice.ReceivedFrequency());
        Assert.Equal(440, bob.ReceivedFrequency());
    }

    [Fact]
    public async Task MakeCall_from_an_srtp_phone_to_a_plain_phone_connects_them_with_tones_both_ways()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("k100", _dir, TlsAccount(server, "100", answerMode: "auto"), "tone:440", extraConfig: TlsConfig());
        await using var bob = await Baresip.StartAsync("k101", _dir, server.Account("101"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        Assert.StartsWith("200 MakeCall 100 101", await client.CommandAsync("MakeCall 100 101"));
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await alice.WaitEventAsync("CALL_CLOSED");

        AssertSrtpOn(alice);
        Assert.Equal(440, bob.ReceivedFrequency());
        Assert.Equal(1000, alice.ReceivedFrequency());
    }

    [Fact]
    public async Task Two_srtp_phones_on_tls_call_each_other_and_hear_each_other()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("t100", _dir, TlsAccount(server, "100"), "tone:440", extraConfig: TlsConfig());
        await using var bob = await Baresip.StartAsync("t101", _dir, TlsAccount(server, "101"), "tone:1000", extraConfig: TlsConfig());
        await server.WaitRegisteredAsync("100", "101");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.Switch.TlsEndPoint!.Port};transport=tls");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        AssertSrtpOn(alice);
        AssertSrtpOn(bob);
        Assert.Equal(1000, alice.ReceivedFrequency());
        Assert.Equal(440, bob.ReceivedFrequency());
    }
}
