using System.Numerics;

namespace Switchboard.Media.Codecs;

/// <summary>G.711 (ITU-T) µ-law and A-law: 16-bit linear PCM to and from 8-bit code words.</summary>
public static class G711
{
    private const int MuLawBias = 0x84;
    private const int MuLawClip = 32635;

    // Decoding is a table lookup because it runs for every received sample of every party; 2 × 512 bytes.
    private static readonly short[] MuLawTable = BuildTable(MuLawToLinear);
    private static readonly short[] ALawTable = BuildTable(ALawToLinear);

    /// <summary>The static RTP payload type of a codec (0 or 8).</summary>
    public static byte PayloadType(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu => 0,
        AudioCodec.Pcma => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    /// <summary>The codec of a static payload type, or false for any other type.</summary>
    public static bool TryFromPayloadType(int payloadType, out AudioCodec codec)
    {
        codec = payloadType == 8 ? AudioCodec.Pcma : AudioCodec.Pcmu;
        return payloadType is 0 or 8;
    }

    /// <summary>Decodes code words into samples; <paramref name="samples"/> must be at least as long as <paramref name="encoded"/>.</summary>
    public static void Decode(AudioCodec codec, ReadOnlySpan<byte> encoded, Span<short> samples)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples.Length, encoded.Length, nameof(samples));
        var table = codec == AudioCodec.Pcma ? ALawTable : MuLawTable;
        for (var i = 0; i < encoded.Length; i++)
        {
            samples[i] = table[encoded[i]];
        }
    }

    /// <summary>Encodes samples into code words; <paramref name="encoded"/> must be at least as long as <paramref name="samples"/>.</summary>
    public static void Encode(AudioCodec codec, ReadOnlySpan<short> samples, Span<byte> encoded)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(encoded.Length, samples.Length, nameof(encoded));
        if (codec == AudioCodec.Pcma)
        {
            for (var i = 0; i < samples.Length; i++)
            {
                encoded[i] = LinearToALaw(samples[i]);
            }
        }
        else
        {
            for (var i = 0; i < samples.Length; i++)
            {
                encoded[i] = LinearToMuLaw(samples[i]);
            }
        }
    }

    /// <summary>µ-law: decodes code words.</summary>
    public static void DecodeMuLaw(ReadOnlySpan<byte> encoded, Span<short> samples) => Decode(AudioCodec.Pcmu, encoded, samples);

    /// <summary>µ-law: encodes samples.</summary>
    public static void EncodeMuLaw(ReadOnlySpan<short> samples, Span<byte> encoded) => Encode(AudioCodec.Pcmu, samples, encoded);

    /// <summary>A-law: decodes code words.</summary>
    public static void DecodeALaw(ReadOnlySpan<byte> encoded, Span<short> samples) => Decode(AudioCodec.Pcma, encoded, samples);

    /// <summary>A-law: encodes samples.</summary>
    public static void EncodeALaw(ReadOnlySpan<short> samples, Span<byte> encoded) => Encode(AudioCodec.Pcma, samples, encoded);

    /// <summary>One µ-law code word to linear (table lookup).</summary>
    public static short MuLawDecode(byte value) => MuLawTable[value];

    /// <summary>One A-law code word to linear (table lookup).</summary>
    public static short ALawDecode(byte value) => ALawTable[value];

    /// <summary>One sample to µ-law: biased magnitude, segment = position of the highest bit, 4-bit mantissa, inverted.</summary>
    public static byte LinearToMuLaw(short sample)
    {
        int pcm = sample;
        var sign = 0;
        if (pcm < 0)
        {
            pcm = -pcm;
            sign = 0x80;
        }

        if (pcm > MuLawClip)
        {
            pcm = MuLawClip;
        }

        pcm += MuLawBias;
        var exponent = BitOperations.Log2((uint)pcm) - 7;
        var mantissa = (pcm >> (exponent + 3)) & 0x0F;
        return (byte)~(sign | (exponent << 4) | mantissa);
    }

    /// <summary>One sample to A-law: 13-bit magnitude, segment, 4-bit mantissa, even bits inverted (XOR 0x55).</summary>
    public static byte LinearToALaw(short sample)
    {
        var pcm = sample >> 3;
        int mask;
        if (pcm >= 0)
        {
            mask = 0xD5;
        }
        else
        {
            // One's complement keeps −1 in the smallest negative step, as the ITU reference does.
            mask = 0x55;
            pcm = -pcm - 1;
        }

        var segment = pcm <= 0x1F ? 0 : BitOperations.Log2((uint)pcm) - 4;
        var value = segment << 4;
        value |= segment < 2 ? (pcm >> 1) & 0x0F : (pcm >> segment) & 0x0F;
        return (byte)(value ^ mask);
    }

    private static short MuLawToLinear(byte value)
    {
        var u = ~value & 0xFF;
        var exponent = (u >> 4) & 0x07;
        var magnitude = ((((u & 0x0F) << 3) + MuLawBias) << exponent) - MuLawBias;
        return (short)((u & 0x80) != 0 ? -magnitude : magnitude);
    }

    private static short ALawToLinear(byte value)
    {
        var a = value ^ 0x55;
        var magnitude = (a & 0x0F) << 4;
        var segment = (a & 0x70) >> 4;
        magnitude = segment switch
        {
            0 => magnitude + 8,
            1 => magnitude + 0x108,
            _ => (magnitude + 0x108) << (segment - 1),
        };
        return (short)((a & 0x80) != 0 ? magnitude : -magnitude);
    }

    private static short[] BuildTable(Func<byte, short> decode)
    {
        var table = new short[256];
        for (var i = 0; i < 256; i++)
        {
            table[i] = decode((byte)i);
        }

        return table;
    }
}
