using Concentus;
using Concentus.Enums;
using Concentus.Structs;

namespace Switchboard.Media.Codecs;

/// <summary>
/// One stream's codec state for the mixer: RTP payload to PCM at the codec's <see cref="AudioCodecs.SampleRate"/>,
/// and 20 ms of PCM to a payload. G.722 and Opus keep state between packets, so each stream direction has its own.
/// Not thread-safe: decoding belongs to the receive side, encoding to the send side.
/// </summary>
public abstract class AudioTranscoder
{
    /// <summary>Longest payload the engine accepts for one 20 ms packet (Opus at its highest rate stays far below).</summary>
    public const int MaxPayloadBytes = 1275;

    private protected AudioTranscoder(AudioCodec codec)
    {
        Codec = codec;
        SampleRate = AudioCodecs.SampleRate(codec);
        FrameSamples = SampleRate / 50;
    }

    /// <summary>The codec.</summary>
    public AudioCodec Codec { get; }

    /// <summary>PCM rate of <see cref="Decode"/>'s output and <see cref="Encode"/>'s input.</summary>
    public int SampleRate { get; }

    /// <summary>Samples in 20 ms at <see cref="SampleRate"/>.</summary>
    public int FrameSamples { get; }

    /// <summary>A fresh transcoder for one stream.</summary>
    public static AudioTranscoder Create(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu or AudioCodec.Pcma => new G711Transcoder(codec),
        AudioCodec.G722 => new G722Transcoder(),
        AudioCodec.Opus => new OpusTranscoder(),
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    /// <summary>
    /// Decodes one packet's payload into <paramref name="samples"/> (room for <see cref="FrameSamples"/>); returns the
    /// samples written, or −1 when the payload is no usable 20 ms (or shorter) packet of this codec.
    /// </summary>
    public abstract int Decode(ReadOnlySpan<byte> payload, Span<short> samples);

    /// <summary>Encodes <see cref="FrameSamples"/> samples into <paramref name="payload"/>; returns its length.</summary>
    public abstract int Encode(ReadOnlySpan<short> samples, Span<byte> payload);

    private sealed class G711Transcoder(AudioCodec codec) : AudioTranscoder(codec)
    {
        public override int Decode(ReadOnlySpan<byte> payload, Span<short> samples)
        {
            if (payload.IsEmpty || payload.Length > FrameSamples)
            {
                return -1;
            }

            G711.Decode(Codec, payload, samples);
            return payload.Length;
        }

        public override int Encode(ReadOnlySpan<short> samples, Span<byte> payload)
        {
            G711.Encode(Codec, samples[..FrameSamples], payload);
            return FrameSamples;
        }
    }

    private sealed class G722Transcoder() : AudioTranscoder(AudioCodec.G722)
    {
        private readonly G722Encoder _encoder = new();
        private readonly G722Decoder _decoder = new();

        public override int Decode(ReadOnlySpan<byte> payload, Span<short> samples)
        {
            // One byte per two samples: a 20 ms packet is 160 bytes.
            if (payload.IsEmpty || payload.Length * 2 > FrameSamples)
            {
                return -1;
            }

            return _decoder.Decode(payload, samples);
        }

        public override int Encode(ReadOnlySpan<short> samples, Span<byte> payload) => _encoder.Encode(samples[..FrameSamples], payload);
    }

    private sealed class OpusTranscoder : AudioTranscoder
    {
        // 64 kbit/s would be music quality; speech in a conference is full-band-ish at 24 kbit/s (RFC 7587 §3.1.1 lists 16–20 for wideband speech).
        private const int Bitrate = 24000;

        private readonly IOpusEncoder _encoder;
        private readonly IOpusDecoder _decoder;

        public OpusTranscoder()
            : base(AudioCodec.Opus)
        {
            // The managed Concentus structs directly: the factory would switch to a native libopus wherever one happens to be
            // installed (baresip's package brings one), and the engine's behaviour and figures would depend on the host.
#pragma warning disable CS0618
            _encoder = new OpusEncoder(SampleRate, 1, OpusApplication.OPUS_APPLICATION_VOIP)
            {
                Bitrate = Bitrate,
                UseInbandFEC = true,
                // Above 3 the encoder costs about twice as much per frame (measured with the media bench) for little
                // gain in speech at this bitrate; a mixing thread carries twice the Opus members at 3.
                Complexity = 3,
            };
            _decoder = new OpusDecoder(SampleRate, 1);
#pragma warning restore CS0618
        }

        public override int Decode(ReadOnlySpan<byte> payload, Span<short> samples)
        {
            if (payload.IsEmpty || payload.Length > MaxPayloadBytes)
            {
                return -1;
            }

            try
            {
                // A packet longer than 20 ms does not fit the frame and fails here rather than desynchronising the clock.
                return _decoder.Decode(payload, samples[..FrameSamples], FrameSamples, false);
            }
            catch (Exception ex) when (ex is OpusException or ArgumentException or IndexOutOfRangeException)
            {
                return -1;
            }
        }

        public override int Encode(ReadOnlySpan<short> samples, Span<byte> payload) =>
            _encoder.Encode(samples[..FrameSamples], FrameSamples, payload, Math.Min(payload.Length, MaxPayloadBytes));
    }
}
