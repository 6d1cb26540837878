using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Switchboard.Media.Codecs;
using Switchboard.Media.Dtmf;
using Switchboard.Media.Rtp;

namespace Switchboard.Media.Tests;

/// <summary>Test helper: a "phone" on a plain UDP socket that sends tone (any engine codec) or DTMF packets and records what it receives.</summary>
internal sealed class TestPhone : IDisposable
{
    private readonly UdpClient _client = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly uint _ssrc;
    private ushort _sequence = (ushort)Random.Shared.Next(65536);
    private uint _timestamp = (uint)Random.Shared.Next();
    private long _sampleIndex;

    public TestPhone(AudioCodec codec, double frequency, uint? ssrc = null, int? payloadType = null)
    {
        Codec = codec;
        PayloadType = (byte)(payloadType ?? AudioCodecs.DefaultPayloadType(codec));
        Frequency = frequency;
        _ssrc = ssrc ?? (uint)Random.Shared.Next();
    }

    public uint Ssrc => _ssrc;

    public AudioCodec Codec { get; }

    public byte PayloadType { get; }

    /// <summary>The PCM rate of the phone's audio (16000 for G.722 and Opus).</summary>
    public int SampleRate => AudioCodecs.SampleRate(Codec);

    public double Frequency { get; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

    public ConcurrentQueue<byte[]> Received { get; } = new();

    public async Task ReceiveAsync(CancellationToken token)
    {
        try
        {
            while (true)
            {
                var result = await _client.ReceiveAsync(token);
                Received.Enqueue(result.Buffer);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public Task SendRawAsync(IPEndPoint target, byte[] datagram) => _client.SendAsync(datagram, target).AsTask();

    /// <summary>Sends <paramref name="packets"/> 20 ms packets of the phone's tone, paced by a timer.</summary>
    public async Task SendToneAsync(IPEndPoint target, int packets, CancellationToken token)
    {
        var encoder = AudioTranscoder.Create(Codec);
        var samples = new short[encoder.FrameSamples];
        var encoded = new byte[AudioTranscoder.MaxPayloadBytes];
        var datagram = new byte[RtpPacket.FixedHeaderSize + AudioTranscoder.MaxPayloadBytes];
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        for (var i = 0; i < packets && await timer.WaitForNextTickAsync(token); i++)
        {
            Goertzel.Tone(samples, Frequency, _sampleIndex, rate: encoder.SampleRate);
            _sampleIndex += samples.Length;
            var size = encoder.Encode(samples, encoded);
            Assert.True(new RtpPacket(PayloadType, _sequence++, _timestamp, _ssrc, encoded.AsSpan(0, size), marker: i == 0).TryWrite(datagram, out var length));
            _timestamp += (uint)(AudioCodecs.ClockRate(Codec) / 50);
            await _client.SendAsync(datagram.AsMemory(0, length), target, token);
        }
    }

    /// <summary>
    /// Sends one RFC 4733 digit: five packets with growing duration, then the end packet three times; durations and
    /// timestamps on the codec's clock (RFC 4733 §2.1).
    /// </summary>
    public async Task SendDigitAsync(IPEndPoint target, char digit, CancellationToken token, byte payloadType = 101)
    {
        var step = AudioCodecs.ClockRate(Codec) / 50;
        Assert.True(TelephoneEvent.TryGetEvent(digit, out var code));
        var payload = new byte[TelephoneEvent.Size];
        var datagram = new byte[RtpPacket.FixedHeaderSize + TelephoneEvent.Size];
        var eventTimestamp = _timestamp;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        for (var i = 1; i <= 8; i++)
        {
            await timer.WaitForNextTickAsync(token);
            var end = i > 5;
            Assert.True(new TelephoneEvent(code, end, 10, (ushort)(Math.Min(i, 5) * step)).TryWrite(payload));
            Assert.True(new RtpPacket(payloadType, _sequence++, eventTimestamp, _ssrc, payload, marker: i == 1).TryWrite(datagram, out var length));
            await _client.SendAsync(datagram.AsMemory(0, length), target, token);
        }

        _timestamp += (uint)(8 * AudioCodecs.ClockRate(Codec) / 50);
    }

    /// <summary>The decoded audio received, in arrival order, without the first and last <paramref name="trim"/> packets.</summary>
    public short[] ReceivedAudio(int trim, out int packets)
    {
        var frames = new List<short[]>();
        var decoder = AudioTranscoder.Create(Codec);
        foreach (var datagram in Received)
        {
            if (RtpPacket.TryParse(datagram, out var packet) && packet.PayloadType == PayloadType)
            {
                var frame = new short[decoder.FrameSamples];
                var length = decoder.Decode(packet.Payload, frame);
                Assert.True(length > 0, $"undecodable {Codec} payload of {packet.Payload.Length} bytes");
                frames.Add(frame[..length]);
            }
        }

        var kept = frames.Skip(trim).SkipLast(trim).ToList();
        packets = kept.Count;
        return kept.SelectMany(f => f).ToArray();
    }

    /// <summary>The decoded audio of the audio packets number <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive), in arrival order.</summary>
    public short[] ReceivedAudio(int from, int to)
    {
        var audio = ReceivedAudio(trim: 0, out _);
        var samples = AudioTranscoder.Create(Codec).FrameSamples;
        return audio[(from * samples)..Math.Min(audio.Length, to * samples)];
    }

    /// <summary>The telephone-events received: (RTP timestamp, marker, event).</summary>
    public List<(uint Timestamp, bool Marker, TelephoneEvent Event)> ReceivedEvents(byte payloadType = 101)
    {
        var events = new List<(uint, bool, TelephoneEvent)>();
        foreach (var datagram in Received)
        {
            if (RtpPacket.TryParse(datagram, out var packet) && packet.PayloadType == payloadType
                && TelephoneEvent.TryParse(packet.Payload, out var tone))
            {
                events.Add((packet.Timestamp, packet.Marker, tone));
            }
        }

        return events;
    }

    /// <summary>The RTP headers of what arrived, in arrival order.</summary>
    public List<(byte PayloadType, ushort Sequence, uint Timestamp, uint Ssrc, bool Marker)> ReceivedHeaders()
    {
        var headers = new List<(byte, ushort, uint, uint, bool)>();
        foreach (var datagram in Received)
        {
            if (RtpPacket.TryParse(datagram, out var packet))
            {
                headers.Add((packet.PayloadType, packet.SequenceNumber, packet.Timestamp, packet.Ssrc, packet.Marker));
            }
        }

        return headers;
    }

    public void Dispose() => _client.Dispose();
}
