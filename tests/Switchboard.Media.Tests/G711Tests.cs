using Switchboard.Media.Codecs;

namespace Switchboard.Media.Tests;

public class G711Tests
{
    [Theory]
    [InlineData(0xFF, 0)]
    [InlineData(0x7F, 0)]
    [InlineData(0x00, -32124)]
    [InlineData(0x80, 32124)]
    [InlineData(0xFE, 8)]
    [InlineData(0x7E, -8)]
    [InlineData(0xEF, 132)]
    [InlineData(0xF0, 120)]
    public void MuLaw_decodes_reference_values(int code, int linear)
    {
        Assert.Equal(linear, G711.MuLawDecode((byte)code));
    }

    [Theory]
    [InlineData(0xD5, 8)]
    [InlineData(0x55, -8)]
    [InlineData(0xAA, 32256)]
    [InlineData(0x2A, -32256)]
    [InlineData(0xD4, 24)]
    [InlineData(0xC5, 264)]
    public void ALaw_decodes_reference_values(int code, int linear)
    {
        Assert.Equal(linear, G711.ALawDecode((byte)code));
    }

    [Theory]
    [InlineData(0, 0xFF)]
    [InlineData(-1, 0x7F)]
    [InlineData(32767, 0x80)]
    [InlineData(-32768, 0x00)]
    [InlineData(100, 0xF2)]
    public void MuLaw_encodes_reference_values(int linear, int code)
    {
        Assert.Equal((byte)code, G711.LinearToMuLaw((short)linear));
    }

    [Theory]
    [InlineData(0, 0xD5)]
    [InlineData(-1, 0x55)]
    [InlineData(32767, 0xAA)]
    [InlineData(-32768, 0x2A)]
    [InlineData(-8, 0x55)]
    [InlineData(-9, 0x55)]
    [InlineData(-17, 0x54)]
    public void ALaw_encodes_reference_values(int linear, int code)
    {
        Assert.Equal((byte)code, G711.LinearToALaw((short)linear));
    }

    [Theory]
    [InlineData(AudioCodec.Pcmu)]
    [InlineData(AudioCodec.Pcma)]
    public void Every_code_word_survives_decode_then_encode(AudioCodec codec)
    {
        var codes = new byte[256];
        for (var i = 0; i < 256; i++)
        {
            codes[i] = (byte)i;
        }

        var samples = new short[256];
        var again = new byte[256];
        G711.Decode(codec, codes, samples);
        G711.Encode(codec, samples, again);
        for (var i = 0; i < 256; i++)
        {
            // µ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes as 0xFF.
            var expected = codec == AudioCodec.Pcmu && i == 0x7F ? 0xFF : i;
            Assert.Equal((byte)expected, again[i]);
        }
    }

    [Theory]
    [InlineData(AudioCodec.Pcmu)]
    [InlineData(AudioCodec.Pcma)]
    public void Round_trip_error_stays_within_half_a_quantisation_step_for_every_sample(AudioCodec codec)
    {
        var input = new short[65536];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (short)(i - 32768);
        }

        var codes = new byte[input.Length];
        var output = new short[input.Length];
        G711.Encode(codec, input, codes);
        G711.Decode(codec, codes, output);
        var worstRelative = 0.0;
        for (var i = 0; i < input.Length; i++)
        {
            int x = input[i];
            var error = Math.Abs(output[i] - x);

            // The step doubles per segment; half a step is about 1/32 of the magnitude, plus the smallest step near
            // zero; beyond the top code word (±32124 / ±32256) the error is clipping.
            var bound = codec == AudioCodec.Pcmu ? ((Math.Abs(x) + 132) / 32) + 1 : Math.Max(8, Math.Abs(x) / 32) + 1;
            if (Math.Abs(x) > 32124)
            {
                bound = Math.Max(bound, Math.Abs(x) - 32124);
            }

            Assert.True(error <= bound, $"{codec}: {x} -> {output[i]} (error {error} > {bound})");
            Assert.True(Math.Sign(output[i]) == Math.Sign(x) || Math.Abs(x) <= 8, $"{codec}: sign of {x} -> {output[i]}");
            if (Math.Abs(x) >= 256)
            {
                worstRelative = Math.Max(worstRelative, error / (double)Math.Abs(x));
            }
        }

        Assert.InRange(worstRelative, 0.001, 1.0 / 20);
    }

    [Theory]
    [InlineData(AudioCodec.Pcmu)]
    [InlineData(AudioCodec.Pcma)]
    public void Decode_is_monotonic_in_the_sample_value(AudioCodec codec)
    {
        var input = new short[65536];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (short)(i - 32768);
        }

        var codes = new byte[input.Length];
        var output = new short[input.Length];
        G711.Encode(codec, input, codes);
        G711.Decode(codec, codes, output);
        for (var i = 1; i < output.Length; i++)
        {
            Assert.True(output[i] >= output[i - 1], $"{codec}: {input[i]} decodes below {input[i - 1]}");
        }
    }

    [Fact]
    public void Span_apis_reject_too_small_destinations()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => G711.Decode(AudioCodec.Pcmu, new byte[160], new short[159]));
        Assert.Throws<ArgumentOutOfRangeException>(() => G711.Encode(AudioCodec.Pcma, new short[160], new byte[10]));
    }

    [Fact]
    public void Payload_types_are_the_static_ones()
    {
        Assert.Equal(0, G711.PayloadType(AudioCodec.Pcmu));
        Assert.Equal(8, G711.PayloadType(AudioCodec.Pcma));
        Assert.True(G711.TryFromPayloadType(8, out var codec));
        Assert.Equal(AudioCodec.Pcma, codec);
        Assert.False(G711.TryFromPayloadType(101, out _));
    }
}
