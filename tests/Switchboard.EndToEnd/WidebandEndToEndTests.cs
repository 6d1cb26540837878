using Switchboard.Testing.Phones;

namespace Switchboard.EndToEnd;

/// <summary>
/// Wideband audio with real baresip phones (Debian's g722.so and opus.so): a 6 kHz tone, which G.711 cannot carry,
/// crosses the switch's media engine between an Opus and a G.722 phone (Opus decoded, mixed at 16 kHz, G.722 encoded
/// by the switch, and the reverse), does not reach a PCMU phone (not even as an alias), passes untouched between two
/// phones that talk directly, and a conference of an Opus, a G.722 and a PCMU phone lets each hear the other two.
/// </summary>
public sealed class WidebandEndToEndTests : IDisposable
{
    private static readonly string[] OpusOnly = ["opus.so"];
    private static readonly string[] G722Only = ["g722.so"];
    private static readonly string[] PcmuOnly = ["g711.so"];

    private readonly string _dir = Directory.CreateTempSubdirectory("sb-wb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Power of <paramref name="frequency"/> in the middle second of the newest recording; 0 when its rate cannot hold it.</summary>
    private static double PowerAt(ReceivedAudio audio, double frequency)
    {
        if (audio.Rate < 2 * frequency + 500 || audio.Samples.Length < audio.Rate * 2) return 0;
        var mid = audio.Samples.Length / 2;
        return Audio.Power(audio.Samples.AsSpan(mid - audio.Rate / 2, audio.Rate), audio.Rate, frequency);
    }

    private static async Task<(Baresip Caller, Baresip Callee)> MakeCallAsync(SwitchboardServer server, LineClient client, Baresip caller, Baresip callee)
    {
        Assert.StartsWith("200 MakeCall 100 101", await client.CommandAsync("MakeCall 100 101"));
        await callee.WaitEventAsync("CALL_INCOMING");
        await callee.CommandAsync("accept");
        await callee.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(3000);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await callee.WaitEventAsync("CALL_CLOSED");
        await caller.WaitEventAsync("CALL_CLOSED");
        await SipConferenceTests.WaitMediaReleasedAsync(server);
        return (caller, callee);
    }

    [Fact]
    public async Task A_6_kHz_tone_crosses_the_mixer_from_an_Opus_phone_to_a_G722_phone_and_back()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("w100", _dir, server.Account("100", answerMode: "auto"), "sine:6000", codecs: OpusOnly);
        await using var bob = await Baresip.StartAsync("w101", _dir, server.Account("101"), "sine:5000", codecs: G722Only);
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        await MakeCallAsync(server, client, alice, bob);

        // bob's phone decoded the switch's G.722 (16 kHz); alice's its Opus. Each heard the other's tone above 4 kHz, far
        // above anything else in the band (the tone each sent itself included).
        var bobHeard = bob.LastReceived() ?? throw new InvalidOperationException("bob recorded nothing: " + bob.RecordingList());
        var aliceHeard = alice.LastReceived() ?? throw new InvalidOperationException("alice recorded nothing: " + alice.RecordingList());
        Assert.True(bobHeard.Rate >= 16000, $"bob's recording is at {bobHeard.Rate} Hz");
        Assert.True(PowerAt(bobHeard, 6000) > 1e5, $"bob (G.722) heard 6 kHz only at {PowerAt(bobHeard, 6000):E2} ({bobHeard})");
        Assert.True(PowerAt(bobHeard, 6000) > 100 * PowerAt(bobHeard, 5000), "bob heard himself");
        Assert.True(PowerAt(aliceHeard, 5000) > 1e5, $"alice (Opus) heard 5 kHz only at {PowerAt(aliceHeard, 5000):E2} ({aliceHeard})");
        Assert.True(PowerAt(aliceHeard, 5000) > 100 * PowerAt(aliceHeard, 6000), "alice heard herself");
    }

    [Fact]
    public async Task The_same_6_kHz_tone_does_not_reach_a_PCMU_phone_not_even_folded_back_to_2_kHz()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("n100", _dir, server.Account("100", answerMode: "auto"), "sine:6000", codecs: OpusOnly);
        await using var bob = await Baresip.StartAsync("n101", _dir, server.Account("101"), "tone:1000", codecs: PcmuOnly);
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        await MakeCallAsync(server, client, alice, bob);

        // The call itself works: alice (Opus) hears bob's 1 kHz, which the mixer took up to 16 kHz.
        var aliceHeard = alice.LastReceived() ?? throw new InvalidOperationException("alice recorded nothing: " + alice.RecordingList());
        Assert.Equal(1000, aliceHeard.Frequency);

        // bob's PCMU phone cannot get 6 kHz; what it gets is near silence, without the 2 kHz alias a mixer that
        // dropped every other sample would make of the tone.
        var bobHeard = bob.LastReceived() ?? throw new InvalidOperationException("bob recorded nothing: " + bob.RecordingList());
        Assert.Equal(8000, bobHeard.Rate);
        Assert.Equal(0, PowerAt(bobHeard, 6000));
        Assert.True(bobHeard.Rms < 300, $"bob (PCMU) heard {bobHeard}");
        Assert.True(PowerAt(bobHeard, 2000) < 1e4, $"bob (PCMU) heard the alias at 2 kHz at {PowerAt(bobHeard, 2000):E2}");
    }

    [Fact]
    public async Task Phones_that_talk_directly_keep_the_wideband_codec_they_agreed_on()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("d100", _dir, server.Account("100"), "sine:6000", codecs: ["g722.so", "g711.so"]);
        await using var bob = await Baresip.StartAsync("d101", _dir, server.Account("101"), "sine:5000", codecs: ["g722.so", "g711.so"]);
        await server.WaitRegisteredAsync("100", "101");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Equal((0, 0), server.Switch.MediaInUse);
        await Task.Delay(3000);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        var bobHeard = bob.LastReceived() ?? throw new InvalidOperationException("bob recorded nothing: " + bob.RecordingList());
        var aliceHeard = alice.LastReceived() ?? throw new InvalidOperationException("alice recorded nothing: " + alice.RecordingList());
        Assert.True(PowerAt(bobHeard, 6000) > 1e5, $"bob heard 6 kHz only at {PowerAt(bobHeard, 6000):E2} ({bobHeard})");
        Assert.True(PowerAt(aliceHeard, 5000) > 1e5, $"alice heard 5 kHz only at {PowerAt(aliceHeard, 5000):E2} ({aliceHeard})");
    }

    [Fact]
    public async Task A_conference_of_an_Opus_a_G722_and_a_PCMU_phone_lets_each_hear_the_other_two()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var ctl = await Baresip.StartAsync("k100", _dir, server.Account("100", answerMode: "auto"), "sine:1000", codecs: OpusOnly);
        await using var alice = await Baresip.StartAsync("k101", _dir, server.Account("101"), "sine:440", codecs: G722Only);
        await using var bob = await Baresip.StartAsync("k102", _dir, server.Account("102"), "sine:1700", codecs: PcmuOnly);
        await server.WaitRegisteredAsync("100", "101", "102");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("200 Monitor 100", await client.CommandAsync("Monitor 100"));

        // Both calls by MakeCall: the media is anchored from the start, no phone is re-INVITEd and every recording is whole.
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

        Assert.StartsWith("200 Conference 100", await client.CommandAsync("Conference 100"));
        await ctl.WaitEventAsync("CALL_CLOSED");
        await Task.Delay(3000);
        Assert.Equal(1, server.Switch.Conferences);
        Assert.StartsWith("200 Drop 101", await client.CommandAsync("Drop 101"));
        await alice.WaitEventAsync("CALL_CLOSED");
        Assert.StartsWith("200 Drop 102", await client.CommandAsync("Drop 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await ctl.WaitEventAsync("CALL_CLOSED");
        await SipConferenceTests.WaitMediaReleasedAsync(server);

        ctl.AssertHeardTogether([440, 1700], own: 1000);
        alice.AssertHeardTogether([1000, 1700], own: 440);
        bob.AssertHeardTogether([1000, 440], own: 1700);
        Assert.True(ctl.LastReceived()?.Rate >= 16000, "the Opus phone decoded wideband audio");
        Assert.Equal(16000, alice.LastReceived()?.Rate);
        Assert.Equal(8000, bob.LastReceived()?.Rate);
    }

    [Fact]
    public async Task Media_Codecs_orders_the_switchs_offer_and_an_unknown_name_stops_the_start()
    {
        await using (var server = await SwitchboardServer.StartAsync(_dir, new() { ["Media:Codecs"] = "g722, pcmu" }))
        {
            await using var alice = await Baresip.StartAsync("o100", _dir, server.Account("100", answerMode: "auto"), "sine:6000", codecs: ["g711.so", "g722.so"]);
            await using var bob = await Baresip.StartAsync("o101", _dir, server.Account("101"), "sine:5000", codecs: ["g711.so", "g722.so"]);
            await server.WaitRegisteredAsync("100", "101");
            await using var client = await LineClient.ConnectAsync(server.CommandPort);
            await MakeCallAsync(server, client, alice, bob);

            // The phones list PCMU first, the switch G.722: its offer decides, and the 6 kHz tone gets through.
            string log;
            using (var f = new FileStream(Path.Combine(alice.Directory, "baresip.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                log = new StreamReader(f).ReadToEnd();
            Assert.Contains("m=audio", log);
            Assert.Contains(" RTP/AVP 9 0 101\r", log.Replace("\r\n", "\r", StringComparison.Ordinal).Replace("\n", "\r", StringComparison.Ordinal));
            Assert.DoesNotContain("opus", log, StringComparison.OrdinalIgnoreCase);
            var bobHeard = bob.LastReceived() ?? throw new InvalidOperationException("bob recorded nothing: " + bob.RecordingList());
            Assert.True(PowerAt(bobHeard, 6000) > 1e5, $"bob heard 6 kHz only at {PowerAt(bobHeard, 6000):E2} ({bobHeard})");
        }

        var refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var bad = await SwitchboardServer.StartAsync(Directory.CreateDirectory(Path.Combine(_dir, "bad")).FullName, new() { ["Media:Codecs"] = "opus,speex" });
        });
        var messages = string.Join(" | ", Chain(refused).Select(e => e.Message));
        Assert.Contains("Media:Codecs: 'speex'", messages);

        static IEnumerable<Exception> Chain(Exception e)
        {
            for (Exception? x = e; x is not null; x = x.InnerException) yield return x;
        }
    }
}
