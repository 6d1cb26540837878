using Switchboard.Media.Codecs;

namespace Switchboard.Media.Tests;

/// <summary>G.722 encode and decode, judged by what a listener would hear: which frequencies come out at what level.</summary>
public class G722Tests
{
    private const int Rate = 16000;

    private static short[] Tone(double frequency, int samples, double amplitude = 8000)
    {
        var tone = new short[samples];
        Goertzel.Tone(tone, frequency, 0, amplitude, Rate);
        return tone;
    }

    private static short[] RoundTrip(short[] input, int frameSamples = 320)
    {
        var encoder = new G722Encoder();
        var decoder = new G722Decoder();
        var output = new short[input.Length];
        var encoded = new byte[frameSamples / 2];
        for (var at = 0; at + frameSamples <= input.Length; at += frameSamples)
        {
            Assert.Equal(frameSamples / 2, encoder.Encode(input.AsSpan(at, frameSamples), encoded));
            Assert.Equal(frameSamples, decoder.Decode(encoded, output.AsSpan(at, frameSamples)));
        }

        return output;
    }

    [Theory]
    [InlineData(300)]
    [InlineData(1000)]
    [InlineData(3000)]
    [InlineData(5000)]
    [InlineData(6000)]
    [InlineData(7000)]
    public void A_tone_in_either_band_comes_out_at_its_level_and_nothing_else_stands_out(double frequency)
    {
        var input = Tone(frequency, Rate * 2);
        var output = RoundTrip(input);

        // The second second: the adaptive quantisers have long settled.
        var settled = output.AsSpan(Rate, Rate);
        var expected = Goertzel.Power(input.AsSpan(Rate, Rate), frequency, Rate);
        var heard = Goertzel.Power(settled, frequency, Rate);
        Assert.InRange(10 * Math.Log10(heard / expected), -1.5, 1.5);

        // The QMF's alias of a tone lies at 8000 − f; G.722 cancels it, as it does every other by-product.
        for (var other = 250.0; other < 8000; other += 250)
        {
            if (Math.Abs(other - frequency) < 300)
            {
                continue;
            }

            var power = Goertzel.Power(settled, other, Rate);
            Assert.True(power < heard / 1000, $"{frequency} Hz in, {other} Hz out at {10 * Math.Log10(power / heard):F1} dB");
        }
    }

    [Fact]
    public void Silence_stays_silence_and_a_tone_after_it_settles_as_quickly()
    {
        var input = new short[Rate];
        Tone(1000, Rate / 2).CopyTo(input, Rate / 2);
        var output = RoundTrip(input);
        Assert.All(output.AsSpan(0, Rate / 2).ToArray(), s => Assert.InRange(s, (short)-8, (short)8));

        // 40 ms after the tone starts the decoder is within 1.5 dB.
        var late = output.AsSpan((Rate / 2) + 640, 3200);
        var expected = Goertzel.Power(input.AsSpan((Rate / 2) + 640, 3200), 1000, Rate);
        Assert.InRange(10 * Math.Log10(Goertzel.Power(late, 1000, Rate) / expected), -1.5, 1.5);
    }

    [Fact]
    public void Full_scale_and_square_waves_saturate_without_wrapping_around()
    {
        var square = new short[Rate];
        for (var i = 0; i < square.Length; i++)
        {
            square[i] = (i / 20 % 2 == 0) ? short.MaxValue : short.MinValue;
        }

        var output = RoundTrip(square);

        // A 400 Hz square wave keeps its fundamental, within the quantiser's limits.
        var fundamental = Goertzel.Power(output.AsSpan(Rate / 2), 400, Rate);
        var original = Goertzel.Power(square.AsSpan(Rate / 2), 400, Rate);
        Assert.InRange(10 * Math.Log10(fundamental / original), -3, 1);
    }

    [Fact]
    public void Frames_of_any_even_length_give_the_same_stream_as_one_long_call()
    {
        var input = Tone(2500, 3200);
        var whole = new byte[1600];
        new G722Encoder().Encode(input, whole);
        var pieces = new byte[1600];
        var encoder = new G722Encoder();
        var at = 0;
        foreach (var length in new[] { 2, 318, 320, 960, 1600 })
        {
            encoder.Encode(input.AsSpan(at, length), pieces.AsSpan(at / 2));
            at += length;
        }

        Assert.Equal(whole, pieces);
    }

    [Fact]
    public void Every_byte_decodes_without_error_and_odd_sample_counts_are_refused()
    {
        var decoder = new G722Decoder();
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var output = new short[512];
        for (var round = 0; round < 50; round++)
        {
            Assert.Equal(512, decoder.Decode(all, output));
        }

        Assert.Throws<ArgumentException>(() => new G722Encoder().Encode(new short[3], new byte[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Decode(new byte[10], new short[19]));
    }
}
