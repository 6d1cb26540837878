using Switchboard.Media.Codecs;
using Switchboard.Media.Mixing;
using Switchboard.Media.Rtp;

namespace Switchboard.Media.Tests;

/// <summary>
/// G.722 and Opus members over real UDP sockets on 127.0.0.1: the mixer runs at 16 kHz when one member is wideband,
/// tones above 4 kHz reach the wideband members and never the narrowband one, DTMF at each codec's clock.
/// </summary>
public class WidebandTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken token)
    {
        while (!condition())
        {
            await Task.Delay(20, token);
        }
    }

    private static double Db(double power, double reference) => 10 * Math.Log10(power / reference);

    [Fact]
    public void Opus_round_trip_at_16_kHz_keeps_a_6_kHz_tone()
    {
        var encoder = AudioTranscoder.Create(AudioCodec.Opus);
        var decoder = AudioTranscoder.Create(AudioCodec.Opus);
        Assert.Equal(320, encoder.FrameSamples);
        var frame = new short[320];
        var payload = new byte[AudioTranscoder.MaxPayloadBytes];
        var output = new List<short>();
        for (var i = 0; i < 100; i++)
        {
            Goertzel.Tone(frame, 6000, i * 320L, rate: 16000);
            var length = encoder.Encode(frame, payload);
            Assert.InRange(length, 1, 200);
            var decoded = new short[320];
            Assert.Equal(320, decoder.Decode(payload.AsSpan(0, length), decoded));
            output.AddRange(decoded);
        }

        var settled = output.Skip(16000).ToArray();
        var tone = Goertzel.Power(settled, 6000, 16000);
        Assert.True(tone > 1e6, $"6 kHz after Opus at power {tone:E2}");
        Assert.True(Db(Goertzel.Power(settled, 2000, 16000), tone) < -30);

        // Not Opus at all, or more than 20 ms (a 60 ms CELT frame would not fit one tick): refused, not crashed.
        Assert.Equal(-1, decoder.Decode([0xFF, 0xFF, 0xFF], new short[320]));
        Assert.Equal(-1, decoder.Decode([], new short[320]));
    }

    [Fact]
    public void The_mixer_mixes_320_sample_frames_at_16_kHz()
    {
        var mixer = new ConferenceMixer { SampleRate = 16000 };
        var a = mixer.Join();
        var b = mixer.Join();
        Assert.Equal(320, a.Input.Length);
        a.Input.Fill(1000);
        a.HasInput = true;
        b.HasInput = false;
        mixer.Mix();
        Assert.Equal(320, b.Output.Length);
        Assert.All(b.Output.ToArray(), s => Assert.Equal(1000, s));
        Assert.Throws<ArgumentOutOfRangeException>(() => mixer.SampleRate = 48000);
    }

    [Fact]
    public async Task Opus_G722_and_PCMU_members_each_hear_the_other_two_and_only_the_wideband_ones_hear_6_kHz()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var opus = new TestPhone(AudioCodec.Opus, 2500, payloadType: 96);
        using var g722 = new TestPhone(AudioCodec.G722, 6000);
        using var pcmu = new TestPhone(AudioCodec.Pcmu, 1000);
        var phones = new[] { opus, g722, pcmu };
        var endpoints = phones.Select(_ => engine.CreateEndpoint()).ToArray();
        await using var conference = engine.CreateConference();
        for (var i = 0; i < phones.Length; i++)
        {
            endpoints[i].SetRemote(phones[i].LocalEndPoint, phones[i].Codec, phones[i].PayloadType, 101);
            conference.Add(endpoints[i]);
        }

        Assert.Equal(16000, conference.SampleRate);
        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = phones.Select(p => p.ReceiveAsync(stopReceiving.Token)).ToArray();
        await Task.WhenAll(phones.Select((p, i) => p.SendToneAsync(endpoints[i].LocalEndPoint, 100, guard.Token)));
        await WaitUntilAsync(() => phones.All(p => p.Received.Count >= 100), guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        var opusHeard = opus.ReceivedAudio(trim: 15, out _);
        var g722Heard = g722.ReceivedAudio(trim: 15, out _);
        var pcmuHeard = pcmu.ReceivedAudio(trim: 15, out var pcmuPackets);
        Assert.True(pcmuPackets >= 40);
        AssertHears(opusHeard, 16000, [6000, 1000], 2500);
        AssertHears(g722Heard, 16000, [2500, 1000], 6000);
        AssertHears(pcmuHeard, 8000, [2500], 1000);

        // The narrowband phone gets neither the 6 kHz tone (it cannot) nor its alias at 2 kHz (the decimation filter).
        var wanted = Goertzel.Power(pcmuHeard, 2500);
        Assert.True(Db(Goertzel.Power(pcmuHeard, 2000), wanted) < -30, "the 6 kHz tone folded back to 2 kHz at the PCMU phone");

        // Each stream on its codec's RTP clock: 320 samples per 20 ms are 160 units of G.722's clock and 960 of Opus's.
        Assert.All(Steps(g722), step => Assert.Equal(160u, step));
        Assert.All(Steps(opus), step => Assert.Equal(960u, step));
        Assert.All(Steps(pcmu), step => Assert.Equal(160u, step));
        Assert.All(endpoints, e => Assert.Equal(0, e.BadPackets));
    }

    [Fact]
    public async Task Two_G722_phones_are_relayed_and_a_6_kHz_tone_passes_and_the_mix_falls_back_to_8_kHz_without_them()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var alice = new TestPhone(AudioCodec.G722, 6000);
        using var bob = new TestPhone(AudioCodec.G722, 7000);
        var a = engine.CreateEndpoint();
        var b = engine.CreateEndpoint();
        a.SetRemote(alice.LocalEndPoint, AudioCodec.G722);
        b.SetRemote(bob.LocalEndPoint, AudioCodec.G722);
        await using var conference = engine.CreateConference();
        conference.Add(a);
        conference.Add(b);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = new[] { alice.ReceiveAsync(stopReceiving.Token), bob.ReceiveAsync(stopReceiving.Token) };
        await Task.WhenAll(alice.SendToneAsync(a.LocalEndPoint, 60, guard.Token), bob.SendToneAsync(b.LocalEndPoint, 60, guard.Token));
        await WaitUntilAsync(() => alice.Received.Count >= 55 && bob.Received.Count >= 55, guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);
        Assert.True(a.RelayedPackets > 0 && b.RelayedPackets > 0);
        AssertHears(bob.ReceivedAudio(trim: 10, out _), 16000, [6000], 7000);
        AssertHears(alice.ReceivedAudio(trim: 10, out _), 16000, [7000], 6000);

        // Re-offered as PCMU: a narrowband pair again.
        a.SetRemote(alice.LocalEndPoint, AudioCodec.Pcmu);
        b.SetRemote(bob.LocalEndPoint, AudioCodec.Pcmu);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        var c = engine.CreateEndpoint();
        c.SetRemote(alice.LocalEndPoint, AudioCodec.G722);
        conference.Add(c);
        Assert.Equal(16000, conference.SampleRate);
        conference.Remove(c);
        await c.DisposeAsync();
        Assert.Equal(8000, conference.SampleRate);
    }

    [Fact]
    public async Task Opus_phones_with_different_dynamic_payload_types_are_relayed_each_with_its_own()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var alice = new TestPhone(AudioCodec.Opus, 1000, payloadType: 96);
        using var bob = new TestPhone(AudioCodec.Opus, 3000, payloadType: 111);
        var a = engine.CreateEndpoint();
        var b = engine.CreateEndpoint();
        a.SetRemote(alice.LocalEndPoint, AudioCodec.Opus, 96, 101);
        b.SetRemote(bob.LocalEndPoint, AudioCodec.Opus, 111, 100);
        await using var conference = engine.CreateConference();
        conference.Add(a);
        conference.Add(b);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receiver = bob.ReceiveAsync(stopReceiving.Token);
        await alice.SendToneAsync(a.LocalEndPoint, 40, guard.Token);
        await WaitUntilAsync(() => bob.Received.Count >= 35, guard.Token);
        await stopReceiving.CancelAsync();
        await receiver;
        Assert.All(bob.ReceivedHeaders(), h => Assert.Equal(111, h.PayloadType));
        AssertHears(bob.ReceivedAudio(trim: 5, out _), 16000, [1000], 3000);
    }

    [Fact]
    public async Task A_digit_from_a_PCMU_phone_reaches_an_Opus_member_with_its_duration_on_the_48_kHz_clock()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var pcmu = new TestPhone(AudioCodec.Pcmu, 440);
        using var opus = new TestPhone(AudioCodec.Opus, 1000);
        using var g722 = new TestPhone(AudioCodec.G722, 1700);
        var phones = new[] { pcmu, opus, g722 };
        var endpoints = phones.Select(_ => engine.CreateEndpoint()).ToArray();
        await using var conference = engine.CreateConference();
        for (var i = 0; i < phones.Length; i++)
        {
            endpoints[i].SetRemote(phones[i].LocalEndPoint, phones[i].Codec, phones[i].PayloadType, 101);
            conference.Add(endpoints[i]);
        }

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = phones.Select(p => p.ReceiveAsync(stopReceiving.Token)).ToArray();
        await pcmu.SendDigitAsync(endpoints[0].LocalEndPoint, '5', guard.Token);
        await WaitUntilAsync(() => opus.ReceivedEvents().Count(e => e.Event.End) >= 3 && g722.ReceivedEvents().Count(e => e.Event.End) >= 3, guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        // The PCMU phone's digit lasted 800 units of 8 kHz (100 ms): 4800 units of Opus's clock, 800 of G.722's.
        var opusEnd = opus.ReceivedEvents().Last(e => e.Event.End).Event;
        var g722End = g722.ReceivedEvents().Last(e => e.Event.End).Event;
        Assert.Equal(5, opusEnd.Event);
        Assert.Equal(4800, opusEnd.Duration);
        Assert.Equal(800, g722End.Duration);
        Assert.All(opus.ReceivedEvents().Where(e => !e.Event.End), e => Assert.Equal(0, e.Event.Duration % 960));
    }

    [Fact]
    public async Task A_digit_from_an_Opus_phone_on_the_48_kHz_clock_is_recognised_and_reaches_a_PCMU_phone_with_its_duration()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var opus = new TestPhone(AudioCodec.Opus, 1000);
        using var pcmu = new TestPhone(AudioCodec.Pcmu, 440);
        await using var opusEndpoint = engine.CreateEndpoint();
        await using var pcmuEndpoint = engine.CreateEndpoint();
        opusEndpoint.SetRemote(opus.LocalEndPoint, AudioCodec.Opus, opus.PayloadType, 100);
        pcmuEndpoint.SetRemote(pcmu.LocalEndPoint, AudioCodec.Pcmu, pcmu.PayloadType, 101);
        var detected = new System.Collections.Concurrent.ConcurrentQueue<char>();
        opusEndpoint.DtmfReceived += detected.Enqueue;
        await using var conference = engine.CreateConference();
        conference.Add(opusEndpoint);
        conference.Add(pcmuEndpoint);

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = new[] { opus.ReceiveAsync(stopReceiving.Token), pcmu.ReceiveAsync(stopReceiving.Token) };
        await opus.SendDigitAsync(opusEndpoint.LocalEndPoint, '9', guard.Token, payloadType: 100);
        await WaitUntilAsync(() => pcmu.ReceivedEvents().Count(e => e.Event.End) >= 3, guard.Token);
        await pcmu.SendDigitAsync(pcmuEndpoint.LocalEndPoint, '4', guard.Token);
        await WaitUntilAsync(() => opus.ReceivedEvents(100).Count(e => e.Event.End) >= 3, guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        // The Opus phone's digit lasts 100 ms: 4800 units of 48 kHz; at the PCMU phone 800 units of 8 kHz, and back.
        Assert.Equal(['9'], detected);
        var atPcmu = pcmu.ReceivedEvents().Last(e => e.Event.End).Event;
        var atOpus = opus.ReceivedEvents(100).Last(e => e.Event.End).Event;
        Assert.Equal((9, 800), (atPcmu.Event, atPcmu.Duration));
        Assert.Equal((4, 4800), (atOpus.Event, atOpus.Duration));
    }

    [Fact]
    public async Task Undecodable_or_too_long_wideband_payloads_are_counted_as_bad_and_the_stream_goes_on()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var opus = new TestPhone(AudioCodec.Opus, 1000);
        using var g722 = new TestPhone(AudioCodec.G722, 1000);
        await using var opusEndpoint = engine.CreateEndpoint();
        await using var g722Endpoint = engine.CreateEndpoint();
        opusEndpoint.SetRemote(opus.LocalEndPoint, AudioCodec.Opus, 111, 100);
        g722Endpoint.SetRemote(g722.LocalEndPoint, AudioCodec.G722);
        using var guard = new CancellationTokenSource(Guard);

        // Opus: no frame at all, a frame count of 63 (invalid), 60 ms of SILK (longer than a tick); G.722: 25 ms.
        byte[][] opusGarbage = [[], [0xFF, 0xFF, 0xFF], [0x18, 0x00, 0x00, 0x00, 0x00]];
        foreach (var payload in opusGarbage)
        {
            await opus.SendRawAsync(opusEndpoint.LocalEndPoint, Rtp(111, payload));
        }

        await g722.SendRawAsync(g722Endpoint.LocalEndPoint, Rtp(9, new byte[200]));
        await Task.WhenAll(opus.SendToneAsync(opusEndpoint.LocalEndPoint, 10, guard.Token), g722.SendToneAsync(g722Endpoint.LocalEndPoint, 10, guard.Token));
        await WaitUntilAsync(() => opusEndpoint.PacketsReceived >= 13 && g722Endpoint.PacketsReceived >= 11, guard.Token);
        Assert.Equal(opusGarbage.Length, opusEndpoint.BadPackets);
        Assert.Equal(1, g722Endpoint.BadPackets);
        Assert.Equal(13, opusEndpoint.PacketsReceived);

        static byte[] Rtp(byte payloadType, byte[] payload)
        {
            var datagram = new byte[RtpPacket.FixedHeaderSize + payload.Length];
            Assert.True(new RtpPacket(payloadType, 1, 1, 0x4242, payload).TryWrite(datagram, out _));
            return datagram;
        }
    }

    private static IEnumerable<uint> Steps(TestPhone phone)
    {
        var audio = phone.ReceivedHeaders().Where(h => h.PayloadType == phone.PayloadType).Skip(RtpEndpoint.SequenceProbes).ToList();
        return audio.Zip(audio.Skip(1), (x, y) => y.Timestamp - x.Timestamp).Where(step => step != 0);
    }

    private static void AssertHears(short[] audio, int rate, double[] expected, double own)
    {
        var ownPower = Goertzel.Power(audio, own, rate);
        foreach (var frequency in expected)
        {
            var power = Goertzel.Power(audio, frequency, rate);
            Assert.True(power > 1e5, $"{frequency} Hz heard only at power {power:E2}");
            Assert.True(power > ownPower * 100, $"own {own} Hz at {ownPower:E2} vs {frequency} Hz at {power:E2}");
        }
    }
}
