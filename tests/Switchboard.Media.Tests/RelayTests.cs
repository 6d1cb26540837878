using System.Collections.Concurrent;
using System.Net;
using Switchboard.Media.Codecs;
using Switchboard.Media.Dtmf;
using Switchboard.Media.Rtp;

namespace Switchboard.Media.Tests;

/// <summary>
/// Two-party relay and symmetric RTP over real UDP sockets on 127.0.0.1: what the test phones receive, packet by packet.
/// </summary>
public class RelayTests
{
    // Only a guard against hanging forever; no assertion depends on how long anything takes.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken token)
    {
        while (!condition())
        {
            await Task.Delay(10, token);
        }
    }

    private static int AudioPackets(TestPhone phone) =>
        phone.ReceivedHeaders().Count(h => h.PayloadType == G711.PayloadType(phone.Codec));

    /// <summary>
    /// Where every test here starts: a media engine, test phones each with an endpoint of the engine that sends to it,
    /// one conference, and the guard against hanging; all closed in reverse order.
    /// </summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly List<TestPhone> _phones = [];
        private readonly List<RtpEndpoint> _endpoints = [];
        private readonly CancellationTokenSource _guard = new(RelayTests.Guard);

        public Rig(MediaEngineOptions? options = null)
        {
            Engine = new MediaEngine(options ?? new MediaEngineOptions());
            Conference = Engine.CreateConference();
        }

        public MediaEngine Engine { get; }

        public Conference Conference { get; }

        /// <summary>Cancelled when a test hangs.</summary>
        public CancellationToken Guard => _guard.Token;

        /// <summary>A test phone with no endpoint (an intruder, a phone behind a moved NAT mapping).</summary>
        public TestPhone Phone(AudioCodec codec, int tone, uint? ssrc = null)
        {
            var phone = new TestPhone(codec, tone, ssrc);
            _phones.Add(phone);
            return phone;
        }

        /// <summary>A phone and its endpoint, which joins the conference unless <paramref name="join"/> is false.</summary>
        public (TestPhone Phone, RtpEndpoint Endpoint) Member(AudioCodec codec, int tone, bool join = true)
        {
            var phone = Phone(codec, tone);
            var endpoint = Engine.CreateEndpoint();
            _endpoints.Add(endpoint);
            endpoint.SetRemote(phone.LocalEndPoint, codec);
            if (join) Conference.Add(endpoint);
            return (phone, endpoint);
        }

        public async ValueTask DisposeAsync()
        {
            await Conference.DisposeAsync();
            foreach (var endpoint in Enumerable.Reverse(_endpoints)) await endpoint.DisposeAsync();
            foreach (var phone in Enumerable.Reverse(_phones)) phone.Dispose();
            await Engine.DisposeAsync();
            _guard.Dispose();
        }
    }

    [Fact]
    public async Task Two_members_of_one_codec_are_relayed_both_ways_packet_for_packet_without_the_clock()
    {
        await using var rig = new Rig();
        var (engine, conference) = (rig.Engine, rig.Conference);
        var (alice, a) = rig.Member(AudioCodec.Pcma, 440);
        Assert.Equal(ConferenceMode.Idle, conference.Mode);
        var (bob, b) = rig.Member(AudioCodec.Pcma, 1000);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        Assert.Equal(0, engine.MixingConferences);

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receivers = new[] { alice.ReceiveAsync(stop.Token), bob.ReceiveAsync(stop.Token) };
        await Task.WhenAll(alice.SendToneAsync(a.LocalEndPoint, 30, guard), bob.SendToneAsync(b.LocalEndPoint, 20, guard));
        await WaitUntilAsync(() => a.RelayedPackets == 30 && b.RelayedPackets == 20 && bob.Received.Count >= 30 && alice.Received.Count >= 20, guard);

        // The clock goes on ticking meanwhile; had it served this conference, it would have sent every 20 ms.
        var ticks = engine.Ticks;
        await WaitUntilAsync(() => engine.Ticks >= ticks + 10, guard);
        await stop.CancelAsync();
        await Task.WhenAll(receivers);

        Assert.Equal(30, bob.Received.Count);
        Assert.Equal(20, alice.Received.Count);
        Assert.Equal(30, b.PacketsSent);
        Assert.Equal(20, a.PacketsSent);
        var heardByBob = bob.ReceivedAudio(trim: 0, out _);
        Assert.True(Goertzel.Power(heardByBob, 440) > 1e6);
        Assert.True(Goertzel.Power(alice.ReceivedAudio(trim: 0, out _), 1000) > 1e6);
        Assert.All(bob.ReceivedHeaders(), h => Assert.Equal(b.Ssrc, h.Ssrc));
        Assert.All(alice.ReceivedHeaders(), h => Assert.Equal(a.Ssrc, h.Ssrc));
    }

    [Fact]
    public async Task A_lone_member_and_a_quiet_pair_cost_no_packet()
    {
        await using var rig = new Rig();
        var engine = rig.Engine;
        var (_, a) = rig.Member(AudioCodec.Pcmu, 440);
        var (_, b) = rig.Member(AudioCodec.Pcmu, 1000);
        await using var lone = engine.CreateConference();
        var (_, c) = rig.Member(AudioCodec.Pcmu, 1700, join: false);
        c.SetRemote(new IPEndPoint(IPAddress.Loopback, 9), AudioCodec.Pcmu);
        lone.Add(c);

        var guard = rig.Guard;
        var ticks = engine.Ticks;
        await WaitUntilAsync(() => engine.Ticks >= ticks + 10, guard);
        Assert.Equal(0, engine.MixingConferences);
        Assert.Equal(0, a.PacketsSent + b.PacketsSent + c.PacketsSent);
    }

    [Fact]
    public async Task Each_phone_hears_one_continuous_stream_across_two_three_two_members()
    {
        await using var rig = new Rig();
        var conference = rig.Conference;
        var (alice, a) = rig.Member(AudioCodec.Pcmu, 440);
        var (bob, b) = rig.Member(AudioCodec.Pcmu, 1000);
        var (carol, c) = rig.Member(AudioCodec.Pcmu, 1700, join: false);

        var guard = rig.Guard;
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(guard);
        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receivers = new[] { alice.ReceiveAsync(stopReceiving.Token), bob.ReceiveAsync(stopReceiving.Token), carol.ReceiveAsync(stopReceiving.Token) };
        var senders = new[]
        {
            alice.SendToneAsync(a.LocalEndPoint, 100_000, stopSending.Token),
            bob.SendToneAsync(b.LocalEndPoint, 100_000, stopSending.Token),
            carol.SendToneAsync(c.LocalEndPoint, 100_000, stopSending.Token),
        };

        await WaitUntilAsync(() => AudioPackets(alice) >= 25 && AudioPackets(bob) >= 25, guard);
        conference.Add(c);
        Assert.Equal(ConferenceMode.Mix, conference.Mode);
        var inMix = (Alice: AudioPackets(alice), Bob: AudioPackets(bob));
        await WaitUntilAsync(() => AudioPackets(alice) >= inMix.Alice + 25 && AudioPackets(bob) >= inMix.Bob + 25, guard);
        conference.Remove(c);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        var backInRelay = (Alice: AudioPackets(alice), Bob: AudioPackets(bob));
        await WaitUntilAsync(() => AudioPackets(alice) >= backInRelay.Alice + 25 && AudioPackets(bob) >= backInRelay.Bob + 25, guard);
        await stopSending.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(senders));
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        foreach (var (phone, endpoint) in new[] { (alice, a), (bob, b) })
        {
            var headers = phone.ReceivedHeaders();
            Assert.All(headers, h => Assert.Equal(endpoint.Ssrc, h.Ssrc));

            // After the four opening probes every packet is the next number and a later time: no step back, no jump.
            var stream = headers.Skip(RtpEndpoint.SequenceProbes - 1).ToList();
            for (var i = 1; i < stream.Count; i++)
            {
                Assert.True((ushort)(stream[i].Sequence - stream[i - 1].Sequence) == 1, $"packet {i}: sequence {stream[i - 1].Sequence} then {stream[i].Sequence}");
                Assert.True((int)(stream[i].Timestamp - stream[i - 1].Timestamp) > 0, $"packet {i}: timestamp {stream[i - 1].Timestamp} then {stream[i].Timestamp}");
            }
        }

        // And the middle part was really the mix: Alice heard Carol. Only that part is measured: how long the relay parts
        // around it last depends on how fast a loaded machine polls, and would thin Carol's share of the whole.
        var heard = alice.ReceivedAudio(inMix.Alice, backInRelay.Alice);
        var power = Goertzel.Power(heard, 1700);
        var frames = heard.Chunk(160).Select(f => Goertzel.Power(f, 1700) > 1e6 ? '#' : '.').ToArray();
        Assert.True(power > 1e6, $"Carol at {power:F0} in the {backInRelay.Alice - inMix.Alice} packets of the mix, {AudioPackets(alice)} in all: {new string(frames)}");
        Assert.True(c.PacketsSent > 0);
    }

    [Fact]
    public async Task A_replaced_member_does_not_break_the_stream_the_other_phone_hears()
    {
        await using var rig = new Rig();
        var conference = rig.Conference;
        var (alice, a) = rig.Member(AudioCodec.Pcmu, 440);
        var (bob, b) = rig.Member(AudioCodec.Pcmu, 1000);
        var (carol, c) = rig.Member(AudioCodec.Pcmu, 1700, join: false);

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receiving = alice.ReceiveAsync(stop.Token);
        await bob.SendToneAsync(b.LocalEndPoint, 20, guard);
        await WaitUntilAsync(() => alice.Received.Count >= 20, guard);

        // A transfer: Bob leaves, Carol (another SSRC, her own numbering) takes his place.
        conference.Remove(b);
        conference.Add(c);
        await carol.SendToneAsync(c.LocalEndPoint, 20, guard);
        await WaitUntilAsync(() => alice.Received.Count >= 40, guard);
        await stop.CancelAsync();
        await receiving;

        var headers = alice.ReceivedHeaders();
        Assert.Equal(40, headers.Count);
        Assert.All(headers, h => Assert.Equal(a.Ssrc, h.Ssrc));
        var stream = headers.Skip(RtpEndpoint.SequenceProbes - 1).ToList();
        for (var i = 1; i < stream.Count; i++)
        {
            Assert.Equal(1, (ushort)(stream[i].Sequence - stream[i - 1].Sequence));
            Assert.True((int)(stream[i].Timestamp - stream[i - 1].Timestamp) >= 160);
        }

        // Carol's first packet starts a talkspurt.
        Assert.True(headers[20].Marker);
    }

    [Fact]
    public async Task Telephone_events_pass_through_the_relay_as_sent_with_the_receivers_payload_type()
    {
        await using var rig = new Rig();
        var conference = rig.Conference;
        var (alice, a) = rig.Member(AudioCodec.Pcmu, 440, join: false);
        var (bob, b) = rig.Member(AudioCodec.Pcmu, 1000, join: false);
        a.SetRemote(alice.LocalEndPoint, AudioCodec.Pcmu, telephoneEventPayloadType: 101);
        b.SetRemote(bob.LocalEndPoint, AudioCodec.Pcmu, telephoneEventPayloadType: 96);
        conference.Add(a);
        conference.Add(b);
        var detected = new ConcurrentQueue<char>();
        a.DtmfReceived += detected.Enqueue;

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receiving = bob.ReceiveAsync(stop.Token);
        await alice.SendToneAsync(a.LocalEndPoint, 5, guard);
        await alice.SendDigitAsync(a.LocalEndPoint, '5', guard);
        await alice.SendToneAsync(a.LocalEndPoint, 5, guard);
        await WaitUntilAsync(() => bob.Received.Count >= 18, guard);
        await stop.CancelAsync();
        await receiving;

        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        Assert.Equal(['5'], detected.ToArray());
        var events = bob.ReceivedEvents(payloadType: 96);

        // Exactly the eight packets Alice sent (five growing, three ends), not a digit the switch made up anew.
        Assert.Equal(8, events.Count);
        Assert.Empty(bob.ReceivedEvents(payloadType: 101));
        Assert.All(events, e => Assert.Equal(5, e.Event.Event));
        Assert.Single(events.Select(e => e.Timestamp).Distinct());
        Assert.True(events[0].Marker);
        Assert.Equal([160, 320, 480, 640, 800, 800, 800, 800], events.Select(e => (int)e.Event.Duration));
        Assert.Equal(3, events.Count(e => e.Event.End));

        // One stream: the events are numbered in line with the audio around them, and lie on its timeline.
        var headers = bob.ReceivedHeaders();
        Assert.Equal(18, headers.Count);
        var tail = headers.Skip(RtpEndpoint.SequenceProbes - 1).ToList();
        for (var i = 1; i < tail.Count; i++)
        {
            Assert.Equal(1, (ushort)(tail[i].Sequence - tail[i - 1].Sequence));
        }

        Assert.True((int)(events[0].Timestamp - headers[4].Timestamp) > 0);
        Assert.True((int)(headers[13].Timestamp - events[0].Timestamp) >= 800);
    }

    [Fact]
    public async Task A_phone_that_sends_from_another_port_than_its_sdp_hears_the_other_party_at_its_real_source()
    {
        await using var rig = new Rig();
        var (natted, a) = rig.Member(AudioCodec.Pcmu, 440, join: false);
        var (other, b) = rig.Member(AudioCodec.Pcmu, 1000, join: false);

        // Behind NAT: the SDP names a private address nobody outside can reach (here: a port nobody listens on).
        a.SetRemote(new IPEndPoint(IPAddress.Loopback, 9), AudioCodec.Pcmu);
        rig.Conference.Add(a);
        rig.Conference.Add(b);

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receivers = new[] { natted.ReceiveAsync(stop.Token), other.ReceiveAsync(stop.Token) };
        await natted.SendToneAsync(a.LocalEndPoint, 10, guard);
        await WaitUntilAsync(() => a.IsLatched && other.Received.Count >= 10, guard);
        await other.SendToneAsync(b.LocalEndPoint, 30, guard);
        await WaitUntilAsync(() => natted.Received.Count >= 30, guard);
        await stop.CancelAsync();
        await Task.WhenAll(receivers);

        Assert.Equal(natted.LocalEndPoint, a.RemoteEndPoint);
        Assert.Equal(30, natted.Received.Count);
        Assert.True(Goertzel.Power(natted.ReceivedAudio(trim: 0, out _), 1000) > 1e6);
        Assert.Equal(0, a.SendErrors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Packets_from_a_third_address_are_dropped_not_relayed(bool withThePhonesSsrc)
    {
        await using var rig = new Rig();
        var (alice, a) = rig.Member(AudioCodec.Pcmu, 440);
        var (bob, b) = rig.Member(AudioCodec.Pcmu, 1000);
        var intruder = rig.Phone(AudioCodec.Pcmu, 1700, withThePhonesSsrc ? alice.Ssrc : null);

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receivers = new[] { alice.ReceiveAsync(stop.Token), bob.ReceiveAsync(stop.Token), intruder.ReceiveAsync(stop.Token) };
        await alice.SendToneAsync(a.LocalEndPoint, 5, guard);
        await WaitUntilAsync(() => a.IsLatched, guard);

        // The phone keeps talking while someone else sprays packets at its port.
        await Task.WhenAll(alice.SendToneAsync(a.LocalEndPoint, 25, guard), intruder.SendToneAsync(a.LocalEndPoint, 25, guard));
        await bob.SendToneAsync(b.LocalEndPoint, 10, guard);
        await WaitUntilAsync(() => bob.Received.Count >= 30 && a.ForeignPackets == 25 && alice.Received.Count >= 10, guard);
        await stop.CancelAsync();
        await Task.WhenAll(receivers);

        Assert.Equal(30, bob.Received.Count);
        var heard = bob.ReceivedAudio(trim: 0, out _);
        Assert.True(Goertzel.Power(heard, 440) > 100 * Goertzel.Power(heard, 1700), "Bob hears the intruder's tone");
        Assert.Equal(alice.LocalEndPoint, a.RemoteEndPoint);
        Assert.Empty(intruder.Received);
        Assert.Equal(25, a.ForeignPackets);
    }

    [Fact]
    public async Task A_phone_whose_nat_mapping_moved_is_relatched_after_silence_only_with_its_ssrc()
    {
        await using var rig = new Rig(new MediaEngineOptions { RelatchAfterMilliseconds = 100 });
        var (before, a) = rig.Member(AudioCodec.Pcmu, 440);
        var (bob, b) = rig.Member(AudioCodec.Pcmu, 1000);
        var stranger = rig.Phone(AudioCodec.Pcmu, 1700);
        var after = rig.Phone(AudioCodec.Pcmu, 440, before.Ssrc);

        var guard = rig.Guard;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard);
        var receivers = new[] { after.ReceiveAsync(stop.Token), before.ReceiveAsync(stop.Token) };
        await before.SendToneAsync(a.LocalEndPoint, 5, guard);
        await WaitUntilAsync(() => a.IsLatched, guard);

        // Longer than the configured silence: now a source with the phone's SSRC may take over, but no other.
        await Task.Delay(300, guard);
        await stranger.SendToneAsync(a.LocalEndPoint, 3, guard);
        await WaitUntilAsync(() => a.ForeignPackets == 3, guard);
        Assert.Equal(before.LocalEndPoint, a.RemoteEndPoint);
        await after.SendToneAsync(a.LocalEndPoint, 5, guard);
        await WaitUntilAsync(() => a.PacketsReceived == 10, guard);
        Assert.Equal(after.LocalEndPoint, a.RemoteEndPoint);

        await bob.SendToneAsync(b.LocalEndPoint, 10, guard);
        await WaitUntilAsync(() => after.Received.Count >= 10, guard);
        await stop.CancelAsync();
        await Task.WhenAll(receivers);
        Assert.Empty(before.Received);
        Assert.Equal(3, a.ForeignPackets);
    }

    [Fact]
    public async Task Two_members_of_different_codecs_are_mixed_and_a_new_sdp_can_switch_them_to_relay()
    {
        await using var rig = new Rig();
        var (engine, conference) = (rig.Engine, rig.Conference);
        var (alice, a) = rig.Member(AudioCodec.Pcmu, 440);
        rig.Member(AudioCodec.Pcma, 1000);
        Assert.Equal(ConferenceMode.Mix, conference.Mode);
        Assert.Equal(1, engine.MixingConferences);

        a.SetRemote(alice.LocalEndPoint, AudioCodec.Pcma);
        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        Assert.Equal(0, engine.MixingConferences);
        await conference.DisposeAsync();
        Assert.Equal(0, engine.MixingConferences);
        Assert.Equal(0, engine.OpenConferences);
    }

    [Fact]
    public void The_relatch_delay_is_bounded()
    {
        Assert.ThrowsAny<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { RelatchAfterMilliseconds = -1 }));
        Assert.ThrowsAny<ArgumentException>(() => new MediaEngine(new MediaEngineOptions { RelatchAfterMilliseconds = MediaEngineOptions.MaxRelatchAfterMilliseconds + 1 }));
    }
}
