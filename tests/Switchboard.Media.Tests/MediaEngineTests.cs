using System.Collections.Concurrent;
using System.Net;
using Switchboard.Media.Codecs;

namespace Switchboard.Media.Tests;

/// <summary>End to end over real UDP sockets on 127.0.0.1: test phones, endpoints, one conference.</summary>
public class MediaEngineTests
{
    // Only a guard against hanging forever; no assertion depends on how long anything takes.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken token)
    {
        while (!condition())
        {
            await Task.Delay(20, token);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_new_stream_opens_with_four_sequence_probes_a_quarter_apart_then_counts_by_one(bool mixed)
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var phone = new TestPhone(AudioCodec.Pcmu, 440);
        using var other = new TestPhone(AudioCodec.Pcmu, 1000);
        using var third = new TestPhone(AudioCodec.Pcmu, 1700);
        await using var a = engine.CreateEndpoint();
        await using var b = engine.CreateEndpoint();
        await using var c = engine.CreateEndpoint();
        a.SetRemote(phone.LocalEndPoint, AudioCodec.Pcmu);
        b.SetRemote(other.LocalEndPoint, AudioCodec.Pcmu);
        c.SetRemote(third.LocalEndPoint, AudioCodec.Pcmu);
        await using var conference = engine.CreateConference();
        conference.Add(a);
        conference.Add(b);
        if (mixed)
        {
            // Three members: the mixer sends on every tick, silence included.
            conference.Add(c);
        }

        using var guard = new CancellationTokenSource(Guard);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receiving = phone.ReceiveAsync(stop.Token);

        // Two members relay: the phone hears the other's packets as they come.
        var sending = mixed ? Task.CompletedTask : other.SendToneAsync(b.LocalEndPoint, 10, guard.Token);
        await WaitUntilAsync(() => phone.Received.Count >= 8, guard.Token);
        await sending;
        await stop.CancelAsync();
        await receiving;

        var seqs = phone.Received.Take(8).Select(d => (ushort)((d[2] << 8) | d[3])).ToArray();
        var steps = seqs.Zip(seqs.Skip(1), (x, y) => (ushort)(y - x)).ToArray();
        Assert.Equal([16384, 16384, 16384, 1, 1, 1, 1], steps.Select(s => (int)s));
    }

    [Fact]
    public async Task Three_phones_in_a_conference_each_hear_the_other_two_tones_and_not_their_own()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        var phones = new[] { new TestPhone(AudioCodec.Pcmu, 440), new TestPhone(AudioCodec.Pcma, 1000), new TestPhone(AudioCodec.Pcmu, 1700) };
        var endpoints = phones.Select(_ => engine.CreateEndpoint()).ToArray();
        await using var conference = engine.CreateConference();
        for (var i = 0; i < phones.Length; i++)
        {
            endpoints[i].SetRemote(phones[i].LocalEndPoint, phones[i].Codec);
            conference.Add(endpoints[i]);
        }

        Assert.Equal(3, conference.Count);
        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = phones.Select(p => p.ReceiveAsync(stopReceiving.Token)).ToArray();
        await Task.WhenAll(phones.Select((p, i) => p.SendToneAsync(endpoints[i].LocalEndPoint, 100, guard.Token)));
        await WaitUntilAsync(() => phones.All(p => p.Received.Count >= 100), guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        for (var i = 0; i < phones.Length; i++)
        {
            var audio = phones[i].ReceivedAudio(trim: 15, out var packets);
            Assert.True(packets >= 40, $"phone {i} got only {packets} audio packets in the middle");
            var own = Goertzel.Power(audio, phones[i].Frequency);
            foreach (var other in phones.Where((_, j) => j != i))
            {
                var power = Goertzel.Power(audio, other.Frequency);
                Assert.True(power > 1e6, $"phone {i} hears {other.Frequency} Hz only at power {power:E2}");
                Assert.True(power > own * 100, $"phone {i}: own {phones[i].Frequency} Hz at {own:E2} vs {other.Frequency} Hz at {power:E2}");
            }

            Assert.True(endpoints[i].PacketsReceived > 0);
            Assert.True(endpoints[i].PacketsSent >= packets);
            Assert.Equal(0, endpoints[i].BadPackets);
        }

        foreach (var phone in phones)
        {
            phone.Dispose();
        }
    }

    [Fact]
    public async Task Dtmf_from_one_member_arrives_as_telephone_events_at_the_other_two()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        var phones = new[] { new TestPhone(AudioCodec.Pcmu, 440), new TestPhone(AudioCodec.Pcma, 1000), new TestPhone(AudioCodec.Pcmu, 1700) };
        var endpoints = phones.Select(_ => engine.CreateEndpoint()).ToArray();
        await using var conference = engine.CreateConference();
        int[] eventPayloadTypes = [101, 96, 101];
        for (var i = 0; i < phones.Length; i++)
        {
            endpoints[i].SetRemote(phones[i].LocalEndPoint, phones[i].Codec, eventPayloadTypes[i]);
            conference.Add(endpoints[i]);
        }

        var detected = new ConcurrentQueue<char>();
        endpoints[0].DtmfReceived += detected.Enqueue;
        var wrongDetections = 0;
        endpoints[1].DtmfReceived += _ => Interlocked.Increment(ref wrongDetections);

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = phones.Select(p => p.ReceiveAsync(stopReceiving.Token)).ToArray();
        await phones[0].SendDigitAsync(endpoints[0].LocalEndPoint, '7', guard.Token);
        await phones[0].SendDigitAsync(endpoints[0].LocalEndPoint, '#', guard.Token);

        bool BothDigitsEnded(TestPhone phone, int payloadType) =>
            phone.ReceivedEvents((byte)payloadType).Where(e => e.Event.End).Select(e => e.Timestamp).Distinct().Count() >= 2;
        await WaitUntilAsync(() => BothDigitsEnded(phones[1], 96) && BothDigitsEnded(phones[2], 101), guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        Assert.Equal(['7', '#'], detected.ToArray());
        Assert.Equal(0, wrongDetections);
        foreach (var (phone, payloadType) in new[] { (phones[1], 96), (phones[2], 101) })
        {
            var events = phone.ReceivedEvents((byte)payloadType);
            var digits = events.GroupBy(e => e.Timestamp).ToList();
            Assert.Equal(2, digits.Count);
            Assert.Equal([(byte)7, (byte)11], digits.Select(d => d.First().Event.Event).ToArray());
            foreach (var digit in digits)
            {
                Assert.True(digit.First().Marker, "the first packet of an event carries the marker bit");
                Assert.All(digit, e => Assert.Equal(digit.First().Event.Event, e.Event.Event));
                Assert.Equal(3, digit.Count(e => e.Event.End));
                Assert.True(digit.Last().Event.End);
                Assert.True(digit.Last().Event.Duration >= 800, "the relayed digit lasts as long as the original");
            }
        }

        Assert.Empty(phones[0].ReceivedEvents());
        foreach (var phone in phones)
        {
            phone.Dispose();
        }
    }

    [Fact]
    public async Task Garbage_is_counted_and_dropped_and_the_stream_goes_on()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var phone = new TestPhone(AudioCodec.Pcmu, 440);
        await using var endpoint = engine.CreateEndpoint();
        endpoint.SetRemote(phone.LocalEndPoint, AudioCodec.Pcmu);
        using var guard = new CancellationTokenSource(Guard);
        byte[][] garbage = [[], [0x80], [0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "INVITE sip:x SIP/2.0\r\n"u8.ToArray(), new byte[1600], [0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]];
        foreach (var datagram in garbage)
        {
            await phone.SendRawAsync(endpoint.LocalEndPoint, datagram);
        }

        await phone.SendToneAsync(endpoint.LocalEndPoint, 10, guard.Token);
        await WaitUntilAsync(() => endpoint.PacketsReceived == 10 && endpoint.BadPackets == garbage.Length, guard.Token);
        Assert.Equal(10, endpoint.PacketsReceived);
        Assert.Equal(garbage.Length, endpoint.BadPackets);
    }

    [Fact]
    public async Task Packets_before_SetRemote_are_ignored_and_a_throwing_dtmf_handler_stops_neither_the_others_nor_the_loop()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var phone = new TestPhone(AudioCodec.Pcma, 1000);
        await using var endpoint = engine.CreateEndpoint();
        using var guard = new CancellationTokenSource(Guard);
        await phone.SendToneAsync(endpoint.LocalEndPoint, 3, guard.Token);
        await WaitUntilAsync(() => endpoint.IgnoredPackets == 3, guard.Token);
        Assert.Equal(0, endpoint.PacketsReceived);

        endpoint.SetRemote(phone.LocalEndPoint, AudioCodec.Pcma);
        var digits = new ConcurrentQueue<char>();
        endpoint.DtmfReceived += _ => throw new InvalidOperationException("handler bug");
        endpoint.DtmfReceived += digits.Enqueue;
        await phone.SendDigitAsync(endpoint.LocalEndPoint, '1', guard.Token);
        await phone.SendToneAsync(endpoint.LocalEndPoint, 3, guard.Token);
        await WaitUntilAsync(() => endpoint.PacketsReceived == 8 + 3, guard.Token);
        Assert.Equal(3, endpoint.IgnoredPackets);
        Assert.Equal(0, endpoint.BadPackets);
        Assert.Equal(['1'], digits.ToArray());
    }

    [Fact]
    public async Task Symmetric_rtp_sends_to_where_the_first_packet_came_from()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        using var natted = new TestPhone(AudioCodec.Pcmu, 440);
        using var other = new TestPhone(AudioCodec.Pcmu, 1000);
        await using var a = engine.CreateEndpoint();
        await using var b = engine.CreateEndpoint();
        await using var conference = engine.CreateConference();

        // The SDP of the phone behind NAT names an address nobody listens on.
        a.SetRemote(new IPEndPoint(IPAddress.Loopback, 9), AudioCodec.Pcmu);
        b.SetRemote(other.LocalEndPoint, AudioCodec.Pcmu);
        conference.Add(a);
        conference.Add(b);
        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receiving = natted.ReceiveAsync(stopReceiving.Token);
        await natted.SendToneAsync(a.LocalEndPoint, 5, guard.Token);
        await WaitUntilAsync(() => a.IsLatched, guard.Token);
        await other.SendToneAsync(b.LocalEndPoint, 5, guard.Token);
        await WaitUntilAsync(() => !natted.Received.IsEmpty, guard.Token);
        await stopReceiving.CancelAsync();
        await receiving;
        Assert.Equal(natted.LocalEndPoint, a.RemoteEndPoint);
    }

    [Fact]
    public async Task Parties_leave_and_the_remaining_two_still_hear_each_other()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        var phones = new[] { new TestPhone(AudioCodec.Pcmu, 440), new TestPhone(AudioCodec.Pcmu, 1000), new TestPhone(AudioCodec.Pcma, 1700) };
        var endpoints = phones.Select(_ => engine.CreateEndpoint()).ToArray();
        await using var conference = engine.CreateConference();
        for (var i = 0; i < phones.Length; i++)
        {
            endpoints[i].SetRemote(phones[i].LocalEndPoint, phones[i].Codec);
            conference.Add(endpoints[i]);
        }

        conference.Remove(endpoints[1]);
        conference.Remove(endpoints[1]);
        Assert.Equal(2, conference.Count);
        await endpoints[1].DisposeAsync();

        using var guard = new CancellationTokenSource(Guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var receivers = new[] { phones[0], phones[2] }.Select(p => p.ReceiveAsync(stopReceiving.Token)).ToArray();
        await Task.WhenAll(phones[0].SendToneAsync(endpoints[0].LocalEndPoint, 60, guard.Token), phones[2].SendToneAsync(endpoints[2].LocalEndPoint, 60, guard.Token));
        await WaitUntilAsync(() => phones[0].Received.Count >= 60 && phones[2].Received.Count >= 60, guard.Token);
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        var heardBy0 = phones[0].ReceivedAudio(10, out _);
        var heardBy2 = phones[2].ReceivedAudio(10, out _);
        Assert.True(Goertzel.Power(heardBy0, 1700) > 1e6);
        Assert.True(Goertzel.Power(heardBy0, 1700) > 100 * Goertzel.Power(heardBy0, 440));
        Assert.True(Goertzel.Power(heardBy2, 440) > 1e6);
        Assert.True(Goertzel.Power(heardBy2, 440) > 100 * Goertzel.Power(heardBy2, 1700));
        Assert.Empty(phones[1].Received);
        foreach (var phone in phones)
        {
            phone.Dispose();
        }
    }

    [Fact]
    public async Task Endpoints_bind_even_ports_inside_the_configured_range()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions { PortMin = 47101, PortMax = 47110 });
        var ports = new List<int>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                ports.Add(engine.CreateEndpoint().LocalEndPoint.Port);
            }
        }
        catch (InvalidOperationException)
        {
            // Another process holds some of these ports; the ones bound must still obey the rules.
        }

        Assert.NotEmpty(ports);
        Assert.All(ports, p => Assert.InRange(p, 47102, 47110));
        Assert.All(ports, p => Assert.Equal(0, p % 2));
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.Throws<InvalidOperationException>(() => engine.CreateEndpoint());
    }

    [Fact]
    public void Bad_options_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { BindAddress = "localhost" }));
        Assert.Throws<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { PortMin = 5000, PortMax = 4000 }));
        Assert.Throws<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { PortMin = 5001, PortMax = 5001 }));
        Assert.Throws<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { PortMin = 0, PortMax = 5001 }));
        Assert.ThrowsAny<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { PlayoutDelayFrames = 17 }));
    }

    [Fact]
    public async Task An_endpoint_is_in_at_most_one_conference()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        await using var endpoint = engine.CreateEndpoint();
        await using var first = engine.CreateConference();
        await using var second = engine.CreateConference();
        first.Add(endpoint);
        first.Add(endpoint);
        Assert.Equal(1, first.Count);
        Assert.Throws<InvalidOperationException>(() => second.Add(endpoint));
        first.Remove(endpoint);
        second.Add(endpoint);
        Assert.Equal(0, first.Count);
        Assert.Equal(1, second.Count);
    }
}
