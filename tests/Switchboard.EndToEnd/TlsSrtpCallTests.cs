using Switchboard.Sip.Transport;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Testing.Topology;
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

    /// <summary>
    /// The controller (100, SRTP on TLS, auto-answer) talks to alice (101, plain RTP) by MakeCall, then consults bob
    /// (102, SRTP on TLS) by MakeCall: every leg is anchored in the switch, two of them in SRTP.
    /// </summary>
    private async Task<(Baresip Ctl, Baresip Alice, Baresip Bob, LineClient Client)> ConsultAsync(SwitchboardServer server, string prefix)
    {
        var ctl = await Baresip.StartAsync(prefix + "100", _dir, TlsAccount(server, "100", answerMode: "auto"), "tone:1000", extraConfig: TlsConfig());
        var alice = await Baresip.StartAsync(prefix + "101", _dir, server.Account("101"), "tone:440");
        var bob = await Baresip.StartAsync(prefix + "102", _dir, TlsAccount(server, "102"), "tone:1700", extraConfig: TlsConfig());
        await server.WaitRegisteredAsync("100", "101", "102");
        var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("200 MakeCall 101 100", await client.CommandAsync("MakeCall 101 100"));
        await alice.WaitEventAsync("CALL_INCOMING");
        await alice.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:101");
        Assert.StartsWith("200 MakeCall 100 102", await client.CommandAsync("MakeCall 100 102"));
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:102");
        return (ctl, alice, bob, client);
    }

    private static async Task AssertReceivingAsync(params Baresip[] phones)
    {
        var before = new List<long>();
        foreach (var p in phones) before.Add((await p.RtpAsync()).Received.Values.Sum());
        await Task.Delay(1500);
        for (int i = 0; i < phones.Length; i++)
        {
            var after = (await phones[i].RtpAsync()).Received.Values.Sum();
            Assert.True(after > before[i] + 40, $"{phones[i].Name} receives ({before[i]} then {after} packets)");
        }
    }

    [Fact]
    public async Task Conference_of_two_srtp_phones_and_a_plain_one_carries_media_and_dtmf_to_each()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        var (ctl, alice, bob, client) = await ConsultAsync(server, "c");
        await using var _ = ctl;
        await using var __ = alice;
        await using var ___ = bob;
        await using var ____ = client;
        Assert.StartsWith("200 Conference 100", await client.CommandAsync("Conference 100"));
        await ctl.WaitEventAsync("CALL_CLOSED");
        await AssertReceivingAsync(alice, bob);
        Assert.True(server.Switch.SecureEndpoints >= 1, "bob's leg of the conference speaks SRTP");
        await ctl.CommandAsync("sndcode", "5");
        Assert.Equal("5", (string?)(await alice.WaitEventAsync("CALL_DTMF_START"))["param"]);
        Assert.Equal("5", (string?)(await bob.WaitEventAsync("CALL_DTMF_START"))["param"]);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        AssertSrtpOn(ctl);
        AssertSrtpOn(bob);
        Assert.StartsWith("200 Drop 102", await client.CommandAsync("Drop 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
    }

    [Fact]
    public async Task Transfer_leaves_the_plain_phone_and_the_srtp_phone_hearing_each_other()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        var (ctl, alice, bob, client) = await ConsultAsync(server, "x");
        await using var _ = ctl;
        await using var __ = alice;
        await using var ___ = bob;
        await using var ____ = client;
        Assert.StartsWith("200 Transfer 100", await client.CommandAsync("Transfer 100"));
        await ctl.WaitEventAsync("CALL_CLOSED");
        await SipRetargetTests.WaitStatusAsync(client, "101", "=connected:102");
        await AssertReceivingAsync(alice, bob);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
        // Both calls came from MakeCall: anchored from the start, no re-INVITE, so the recordings are whole.
        AssertSrtpOn(bob);
        Assert.Equal(440, bob.ReceivedFrequency());
    }
}

/// <summary>
/// A phone behind the NAT router of the network topology registers over TLS with SRTP: the switch reaches it only over
/// the TLS connection the phone opened (its flow), and a call with a phone on LAN A carries tones both ways.
/// </summary>
public sealed class TlsNatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-tlsnat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public async Task A_tls_srtp_phone_behind_nat_is_called_over_its_own_connection_and_calls_out_with_tones_both_ways()
    {
        NetworkTopology topology;
        try
        {
            topology = NetworkTopology.Create();
        }
        catch (TopologyUnavailableException ex)
        {
            NetworkTopology.SkipOrFail(ex.Message);
            return;
        }
        using var _ = topology;
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir);
        var home = topology.Home;
        var lan = topology.LanA;
        var tlsPort = server.Switch.TlsEndPoint!.Port;
        string[] tls = ["module\t\t\tsrtp.so", "sip_cafile\t\t" + Path.Combine(_dir, SipTlsCertificates.GeneratedCertificateFile)];
        await using var nat = await Baresip.StartAsync("n102", _dir,
            $"<sip:102@{home.ServerAddress}:{tlsPort};transport=tls>;auth_pass={server.Switch.PasswordOf("102")};answermode=manual;mediaenc=srtp;regint=600",
            "tone:1700", home.Host, tls);
        await using var desk = await Baresip.StartAsync("n100", _dir, server.AccountAt("100", lan.ServerAddress), "tone:440", lan.Host);
        await server.WaitRegisteredAsync("100", "102");
        Assert.Equal(["tls"], server.Switch.RegisteredTransports("102"));

        // In: the INVITE can only reach the NAT phone over the connection it registered on.
        await desk.CommandAsync("dial", $"sip:102@{lan.ServerAddress}:{server.SipPort}");
        await nat.WaitEventAsync("CALL_INCOMING");
        await nat.CommandAsync("accept");
        await desk.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await desk.CommandAsync("hangup");
        await nat.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(1700, desk.ReceivedFrequency());
        Assert.Equal(440, nat.ReceivedFrequency());
        Assert.True(nat.LogTail(4000).Contains("SRTP is Enabled", StringComparison.Ordinal), nat.LogTail());
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
    }
}
