using Switchboard.Sip.Transport;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Testing.Topology;

namespace Switchboard.EndToEnd;

/// <summary>
/// A real linphone 5.1 (linphone-daemon) on its own host (LAN A of the network topology) registers over the switch's TLS
/// port, trusting the certificate the switch generated, with SRTP mandatory; a baresip phone on plain RTP sits on LAN B.
/// What a user would check is checked on the wire and in the audio: the registration is a TLS one, INVITE and 200 go
/// over TLS with RTP/SAVP and an a=crypto key both ways, and linphone's tone arrives at the baresip phone.
/// </summary>
public sealed class LinphoneTlsSrtpTests : IDisposable
{
    private const int LinphoneTone = 600;
    private const int BaresipTone = 1000;
    private const int SecondBaresipTone = 1700;
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-lp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// linphone's TLS settings for the switch's generated certificate: it must chain to that file (the phone pins it),
    /// but the name is not checked, as the generated certificate names this host (its host name) while the phone dials
    /// the switch's address on its LAN.
    /// </summary>
    private LinphoneSettings SrtpOnTls(bool autoAnswer = false) => new()
    {
        Transport = LinphoneTransport.Tls,
        RootCa = Path.Combine(_dir, SipTlsCertificates.GeneratedCertificateFile),
        VerifyServerCertificate = true,
        VerifyServerName = false,
        SrtpMandatory = true,
        AutoAnswer = autoAnswer,
    };

    private static NetworkTopology? CreateTopology()
    {
        try
        {
            return NetworkTopology.Create();
        }
        catch (TopologyUnavailableException ex)
        {
            NetworkTopology.SkipOrFail(ex.Message);
            return null;
        }
    }

    /// <summary>Linphone on LAN A registered as 100 over TLS, baresip on LAN B as 101 over UDP.</summary>
    private async Task<(Linphone Linphone, Baresip Baresip)> PhonesAsync(SwitchboardServer server, NetworkTopology topology, string prefix, bool autoAnswer = false, string baresipAnswerMode = "manual")
    {
        var lan = topology.LanA;
        var tls = server.Switch.TlsEndPoint!.Port;
        var linphone = await Linphone.StartAsync(prefix + "100", _dir, lan.Host, SrtpOnTls(autoAnswer));
        Baresip? baresip = null;
        try
        {
            await linphone.RegisterAsync($"sip:100@{lan.ServerAddress}", $"sip:{lan.ServerAddress}:{tls};transport=tls", server.Switch.PasswordOf("100")!);
            baresip = await Baresip.StartAsync(prefix + "101", _dir, server.AccountAt("101", topology.LanB.ServerAddress, answerMode: baresipAnswerMode), "tone:" + BaresipTone, topology.LanB.Host);
            await linphone.WaitRegisteredAsync();
            await server.WaitRegisteredAsync("100", "101");
            return (linphone, baresip);
        }
        catch
        {
            if (baresip is not null) await baresip.DisposeAsync();
            await linphone.DisposeAsync();
            throw;
        }
    }

    private string ToneFile()
    {
        var wav = Path.Combine(_dir, "linphone-tone.wav");
        if (!File.Exists(wav)) Audio.WriteTone(wav, LinphoneTone, seconds: 120);
        return wav;
    }

    /// <summary>Waits until the baresip phone's recording of this call holds two seconds with linphone's tone in them.</summary>
    private static async Task AssertHearsLinphoneAsync(SwitchboardServer server, Baresip phone)
    {
        var heard = await Poll.ForAsync(() => Task.FromResult(phone.LastReceived()),
            a => a is { Frequency: LinphoneTone } && a.Samples.Length >= 2 * a.Rate, seconds: 40);
        Assert.True(heard is { Frequency: LinphoneTone } && heard.Samples.Length >= 2 * heard.Rate,
            $"{phone.Name} should hear linphone's {LinphoneTone} Hz, heard {heard?.ToString() ?? "nothing"} ({phone.RecordingList()}); " +
            $"SRTP packets the switch rejected: {server.Switch.SrtpRejectedPackets}");
    }

    /// <summary>The last message of the phone's trace that matches, with the whole trace in the failure message.</summary>
    private static LinphoneSipMessage Last(Linphone phone, Func<LinphoneSipMessage, bool> match, string what)
    {
        var trace = phone.SipTrace();
        return trace.LastOrDefault(match)
            ?? throw new Xunit.Sdk.XunitException($"{phone.Name} has no {what} in its SIP trace:\n{string.Join('\n', trace)}");
    }

    /// <summary>The SDP of an offer or answer on the TLS leg: RTP/SAVP with an SDES key, nothing in clear.</summary>
    private static void AssertSrtpSdp(LinphoneSipMessage message)
    {
        Assert.Equal("TLS", message.Transport);
        var media = Assert.Single(message.SdpLines("m=audio"));
        Assert.Contains(" RTP/SAVP ", media, StringComparison.Ordinal);
        Assert.Contains(message.SdpLines("a=crypto:"), l => l.Contains(" AES_CM_128_HMAC_SHA1_", StringComparison.Ordinal) && l.Contains(" inline:", StringComparison.Ordinal));
    }

    /// <summary>What linphone itself says of the call's media: negotiated SRTP, and SRTP packets received and decoded.</summary>
    private static void AssertLinphoneReceivedSrtp(Linphone phone)
    {
        Assert.Contains("Negotiated media encryption is LinphoneMediaEncryptionSRTP", phone.LogTail(int.MaxValue), StringComparison.Ordinal);
        var stats = phone.RtpStatistics();
        var last = stats.LastOrDefault(s => s.PacketsReceived > 0)
            ?? throw new Xunit.Sdk.XunitException($"{phone.Name} logged no stream that received packets: {string.Join("; ", stats)}");
        // Two seconds of 20 ms packets at the least; oRTP counts what passed SRTP authentication.
        Assert.True(last.PacketsReceived >= 100 && last.BytesDeliveredToApp > 0 && last.BadFormatted == 0, $"{phone.Name}: {last}");
    }

    [SkippableFact]
    public async Task Linphone_on_tls_with_srtp_mandatory_calls_a_baresip_phone_over_rtp_savp_and_its_tone_arrives()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir);
        var (linphone, baresip) = await PhonesAsync(server, topology, "o");
        await using var _ = linphone;
        await using var __ = baresip;

        // The registration: the switch holds a TLS binding, and the phone saw its REGISTER answered 200 over TLS.
        Assert.Equal(["tls"], server.Switch.RegisteredTransports("100"));
        Assert.Equal("TLS", Last(linphone, m => !m.Sent && m.Status == 200 && m.CSeqMethod == "REGISTER", "200 to REGISTER").Transport);

        var tls = server.Switch.TlsEndPoint!.Port;
        var call = await linphone.CallAsync($"sip:101@{topology.LanA.ServerAddress}:{tls};transport=tls");
        await baresip.WaitEventAsync("CALL_INCOMING");
        await baresip.CommandAsync("accept");
        await baresip.WaitEventAsync("CALL_ESTABLISHED");
        await linphone.WaitCallStateAsync("LinphoneCallStreamsRunning", call);
        // Anchored: linphone's leg of the switch is the SRTP one, baresip's plain RTP.
        Assert.Equal(1, server.Switch.SecureEndpoints);
        await linphone.PlayAsync(ToneFile());

        await AssertHearsLinphoneAsync(server, baresip);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        await linphone.TerminateAsync(call);
        await baresip.WaitEventAsync("CALL_CLOSED");
        await linphone.WaitCallEndedAsync(call);

        AssertSrtpSdp(Last(linphone, m => m.Sent && m.StartLine.StartsWith("INVITE sip:101@", StringComparison.Ordinal), "INVITE"));
        AssertSrtpSdp(Last(linphone, m => !m.Sent && m.Status == 200 && m.CSeqMethod == "INVITE", "200 to INVITE"));
        AssertLinphoneReceivedSrtp(linphone);
    }

    [SkippableFact]
    public async Task A_baresip_phone_calls_linphone_on_tls_with_srtp_mandatory_and_hears_its_tone()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        // linphone refuses an RTP/AVP offer (488): the switch is told that 100 takes SRTP only, so it anchors the call
        // and offers RTP/SAVP with a key on 100's TLS connection.
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir, new() { ["Sip:DeviceSrtp:100"] = "Required" });
        var (linphone, baresip) = await PhonesAsync(server, topology, "i");
        await using var _ = linphone;
        await using var __ = baresip;

        await baresip.CommandAsync("dial", $"sip:100@{topology.LanB.ServerAddress}:{server.SipPort}");
        await linphone.WaitCallStateAsync("LinphoneCallIncomingReceived");
        await linphone.AnswerAsync();
        await linphone.WaitCallStateAsync("LinphoneCallStreamsRunning");
        await baresip.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Equal(1, server.Switch.SecureEndpoints);
        await linphone.PlayAsync(ToneFile());

        await AssertHearsLinphoneAsync(server, baresip);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        await baresip.CommandAsync("hangup");
        await linphone.WaitCallEndedAsync();

        AssertSrtpSdp(Last(linphone, m => !m.Sent && m.StartLine.StartsWith("INVITE sip:100@", StringComparison.Ordinal), "INVITE"));
        AssertSrtpSdp(Last(linphone, m => m.Sent && m.Status == 200 && m.CSeqMethod == "INVITE", "200 to INVITE"));
        AssertLinphoneReceivedSrtp(linphone);
    }

    [SkippableFact]
    public async Task MakeCall_from_linphone_on_tls_with_srtp_mandatory_to_a_baresip_phone_carries_its_tone()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        // The switch's own INVITE to 100 (the first leg of MakeCall) must be RTP/SAVP, as linphone takes nothing else.
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir, new() { ["Sip:DeviceSrtp:100"] = "Required" });
        var (linphone, baresip) = await PhonesAsync(server, topology, "m", autoAnswer: true);
        await using var _ = linphone;
        await using var __ = baresip;
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        Assert.StartsWith("200 MakeCall 100 101", await client.CommandAsync("MakeCall 100 101"));
        await linphone.WaitCallStateAsync("LinphoneCallStreamsRunning");
        await baresip.WaitEventAsync("CALL_INCOMING");
        await baresip.CommandAsync("accept");
        await baresip.WaitEventAsync("CALL_ESTABLISHED");
        await linphone.PlayAsync(ToneFile());

        await AssertHearsLinphoneAsync(server, baresip);
        Assert.Equal(1, server.Switch.SecureEndpoints);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await baresip.WaitEventAsync("CALL_CLOSED");
        await linphone.WaitCallEndedAsync();

        AssertSrtpSdp(Last(linphone, m => !m.Sent && m.StartLine.StartsWith("INVITE sip:100@", StringComparison.Ordinal), "INVITE"));
        AssertSrtpSdp(Last(linphone, m => m.Sent && m.Status == 200 && m.CSeqMethod == "INVITE", "200 to INVITE"));
        AssertLinphoneReceivedSrtp(linphone);
    }

    /// <summary>
    /// A phone that checks the certificate's name dials the switch by the host name its generated certificate carries:
    /// the name resolves, on the phone's host, to the switch's address there (its own hosts file, which
    /// <c>ip netns exec</c> mounts from /etc/netns/&lt;namespace&gt;/hosts). linphone 5.1 on Debian 12 (mbedtls 2.28)
    /// cannot match an address at all, as it reads no iPAddress entry of a certificate.
    /// </summary>
    [SkippableFact]
    public async Task Linphone_checking_the_certificate_name_registers_by_the_host_name_the_generated_certificate_carries()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        var lan = topology.LanA;
        var hostName = System.Net.Dns.GetHostName();
        var hostsDir = Path.Combine("/etc/netns", lan.Namespace);
        Directory.CreateDirectory(hostsDir);
        try
        {
            File.WriteAllText(Path.Combine(hostsDir, "hosts"), $"127.0.0.1 localhost\n{lan.ServerAddress} {hostName}\n");
            await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir);
            await using var linphone = await Linphone.StartAsync("v100", _dir, lan.Host, SrtpOnTls() with { VerifyServerName = true });

            await linphone.RegisterAsync($"sip:100@{hostName}", $"sip:{hostName}:{server.Switch.TlsEndPoint!.Port};transport=tls", server.Switch.PasswordOf("100")!);
            await linphone.WaitRegisteredAsync();
            await server.WaitRegisteredAsync("100");

            Assert.Equal(["tls"], server.Switch.RegisteredTransports("100"));
            Assert.Contains("verify_server_cn=1", File.ReadAllText(Path.Combine(linphone.Directory, "linphonerc")), StringComparison.Ordinal);
            Assert.DoesNotContain("CN-mismatch", linphone.LogTail(int.MaxValue), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(hostsDir, recursive: true);
        }
    }

    /// <summary>
    /// The consultation both new tests start from: baresip 101 (LAN B, auto-answer) is the controller; <c>MakeCall 101 100</c>
    /// connects it to linphone (SRTP on TLS, auto-answer), which then plays its tone; <c>MakeCall 101 102</c> holds that
    /// call and connects 101 to a second baresip (LAN B). Every leg is anchored in the switch, linphone's in SRTP.
    /// </summary>
    private async Task<(Linphone Linphone, Baresip Controller, Baresip Other, LineClient Client, System.Diagnostics.Stopwatch Clock)> ConsultAsync(SwitchboardServer server, NetworkTopology topology, string prefix)
    {
        var (linphone, controller) = await PhonesAsync(server, topology, prefix, autoAnswer: true, baresipAnswerMode: "auto");
        Baresip? other = null;
        LineClient? client = null;
        try
        {
            other = await Baresip.StartAsync(prefix + "102", _dir, server.AccountAt("102", topology.LanB.ServerAddress), "tone:" + SecondBaresipTone, topology.LanB.Host);
            await server.WaitRegisteredAsync("102");
            client = await LineClient.ConnectAsync(server.CommandPort);
            // Runs from before linphone's call exists: a bound on how long that call lasts before Transfer/Conference.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.StartsWith("200 MakeCall 101 100", await client.CommandAsync("MakeCall 101 100"));
            await linphone.WaitCallStateAsync("LinphoneCallStreamsRunning");
            await WaitStatusAsync(client, "101", "=connected:100");
            await linphone.PlayAsync(ToneFile());
            await AssertHearsLinphoneAsync(server, controller);
            Assert.StartsWith("200 MakeCall 101 102", await client.CommandAsync("MakeCall 101 102"));
            await other.WaitEventAsync("CALL_INCOMING");
            await other.CommandAsync("accept");
            await other.WaitEventAsync("CALL_ESTABLISHED");
            await WaitStatusAsync(client, "101", "=connected:102");
            return (linphone, controller, other, client, clock);
        }
        catch
        {
            if (client is not null) await client.DisposeAsync();
            if (other is not null) await other.DisposeAsync();
            await controller.DisposeAsync();
            await linphone.DisposeAsync();
            throw;
        }
    }

    private static async Task WaitStatusAsync(LineClient client, string device, string contains)
    {
        var last = await Poll.ForAsync(() => client.CommandAsync("Status " + device), s => s.Contains(contains, StringComparison.Ordinal), seconds: 40);
        Assert.True(last.Contains(contains, StringComparison.Ordinal), $"Status {device} never contained '{contains}': {last}");
    }

    /// <summary>The whole seconds of the phone's newest recording in which a tone is clearly present.</summary>
    private static int SecondsWith(ReceivedAudio? heard, double frequency)
    {
        if (heard is null) return 0;
        int seconds = 0;
        for (int start = 0; start + heard.Rate <= heard.Samples.Length; start += heard.Rate)
            if (Audio.Power(heard.Samples.AsSpan(start, heard.Rate), heard.Rate, frequency) > 1e4) seconds++;
        return seconds;
    }

    /// <summary>
    /// Waits until the listener's recording of this call holds, at some moment, every tone of <paramref name="expected"/>
    /// together and not its own, and then until linphone's tone has been in it for more seconds than linphone's call
    /// lasted before the operation (<paramref name="before"/>): from then on, linphone's RTP statistics can only reach
    /// the bound of <see cref="AssertLinphoneReceivedAfter"/> with packets of the joined call.
    /// </summary>
    private static async Task AssertHearsTogetherAsync(Baresip listener, double[] expected, double own, TimeSpan before)
    {
        var needed = (int)Math.Ceiling(before.TotalSeconds) + 5;
        string description = "";
        var heard = await Poll.ForAsync(() => Task.FromResult(listener.LastReceived()),
            a => a is not null && Audio.HeardTogether(a.Samples, a.Rate, expected, own, out description) && SecondsWith(a, LinphoneTone) >= needed, seconds: 90);
        Assert.True(heard is not null && Audio.HeardTogether(heard.Samples, heard.Rate, expected, own, out description),
            $"{listener.Name} never heard {string.Join(" and ", expected)} Hz together without its own {own} Hz ({listener.RecordingList()}):\n{description}");
        Assert.True(SecondsWith(heard, LinphoneTone) >= needed, $"{listener.Name} heard linphone's tone for {SecondsWith(heard, LinphoneTone)} s, not {needed} s");
    }

    /// <summary>
    /// linphone's statistics count every packet of the call's one stream (anchored calls are joined without a re-INVITE).
    /// Before the operation the switch could send it at most one 20 ms packet per 20 ms of the call (plus the probes a
    /// stream opens with); more than that, with SRTP negotiated and nothing badly formatted, means SRTP kept arriving
    /// and being decoded after it.
    /// </summary>
    private static void AssertLinphoneReceivedAfter(Linphone phone, TimeSpan before)
    {
        AssertLinphoneReceivedSrtp(phone);
        var bound = (long)(before.TotalMilliseconds / 20) + 50;
        var last = phone.RtpStatistics().Last(s => s.PacketsReceived > 0);
        Assert.True(last.PacketsReceived > bound + 50, $"{phone.Name} received {last.PacketsReceived} packets, at most {bound} of them before the operation: {last}");
    }

    /// <summary>
    /// Transfer with linphone as one of the two far parties: after <c>Transfer 101</c> the controller's calls end,
    /// linphone's tone reaches the other baresip phone (and not that phone's own), and linphone keeps receiving SRTP.
    /// </summary>
    [SkippableFact]
    public async Task Transfer_joins_linphone_on_tls_with_srtp_to_a_baresip_phone_and_its_tone_arrives_there()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir, new() { ["Sip:DeviceSrtp:100"] = "Required" });
        var (linphone, controller, other, client, clock) = await ConsultAsync(server, topology, "x");
        await using var _ = linphone;
        await using var __ = controller;
        await using var ___ = other;
        await using var ____ = client;

        Assert.StartsWith("200 Transfer 101", await client.CommandAsync("Transfer 101"));
        var before = clock.Elapsed;
        await controller.WaitEventAsync("CALL_CLOSED");
        await WaitStatusAsync(client, "100", "=connected:102");
        await AssertHearsTogetherAsync(other, [LinphoneTone], SecondBaresipTone, before);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        Assert.Equal(1, server.Switch.SecureEndpoints);

        await other.CommandAsync("hangup");
        await linphone.WaitCallEndedAsync();
        AssertLinphoneReceivedAfter(linphone, before);
        AssertSrtpSdp(Last(linphone, m => !m.Sent && m.StartLine.StartsWith("INVITE sip:100@", StringComparison.Ordinal), "INVITE"));
    }

    /// <summary>
    /// Conference of linphone and two baresip phones: after <c>Conference 101</c> each baresip phone hears linphone's tone
    /// together with the other baresip's and not its own, and linphone keeps receiving SRTP from the mixer.
    /// </summary>
    [SkippableFact]
    public async Task Conference_of_linphone_on_tls_with_srtp_and_two_baresip_phones_lets_each_baresip_hear_the_other_two()
    {
        using var topology = CreateTopology();
        if (topology is null) return;
        await using var server = await SwitchboardServer.StartOnDefaultsAsync(_dir, new() { ["Sip:DeviceSrtp:100"] = "Required" });
        var (linphone, controller, other, client, clock) = await ConsultAsync(server, topology, "c");
        await using var _ = linphone;
        await using var __ = controller;
        await using var ___ = other;
        await using var ____ = client;

        Assert.StartsWith("200 Conference 101", await client.CommandAsync("Conference 101"));
        var before = clock.Elapsed;
        // 101's held call (to linphone) is released; its consultation call becomes its seat in the conference.
        await controller.WaitEventAsync("CALL_CLOSED");
        await AssertHearsTogetherAsync(controller, [LinphoneTone, SecondBaresipTone], BaresipTone, before);
        await AssertHearsTogetherAsync(other, [LinphoneTone, BaresipTone], SecondBaresipTone, before);
        Assert.Equal(0, server.Switch.SrtpRejectedPackets);
        Assert.Equal(1, server.Switch.SecureEndpoints);

        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await linphone.WaitCallEndedAsync();
        AssertLinphoneReceivedAfter(linphone, before);
        AssertSrtpSdp(Last(linphone, m => !m.Sent && m.StartLine.StartsWith("INVITE sip:100@", StringComparison.Ordinal), "INVITE"));
    }
}
