using Switchboard.Media.Mixing;

namespace Switchboard.Media.Tests;

/// <summary>The 8↔16 kHz converters of the wideband mixer, judged by the spectrum of what comes out.</summary>
public class ResamplerTests
{
    private static double Db(double power, double reference) => 10 * Math.Log10(power / reference);

    private static short[] Run(Func<short[], short[], int> process, short[] input, int frame, double ratio)
    {
        var output = new short[(int)(input.Length * ratio)];
        var buffer = new short[(int)(frame * ratio)];
        for (var at = 0; at + frame <= input.Length; at += frame)
        {
            var written = process(input[at..(at + frame)], buffer);
            buffer.AsSpan(0, written).CopyTo(output.AsSpan((int)(at * ratio)));
        }

        return output;
    }

    [Theory]
    [InlineData(300)]
    [InlineData(1000)]
    [InlineData(3000)]
    public void Doubling_the_rate_keeps_a_telephone_band_tone_and_suppresses_its_image(double frequency)
    {
        var input = new short[8000];
        Goertzel.Tone(input, frequency, 0);
        var up = new Upsampler();
        var output = Run((i, o) => up.Process(i, o), input, 160, 2);
        var settled = output.AsSpan(3200, 12800);
        var reference = Goertzel.Power(input.AsSpan(1600, 6400), frequency);
        var tone = Goertzel.Power(settled, frequency, 16000);
        Assert.InRange(Db(tone, reference), -0.5, 0.5);

        // Zero-stuffing mirrors the spectrum around 4 kHz; the filter must remove the mirror image.
        var image = Goertzel.Power(settled, 8000 - frequency, 16000);
        Assert.True(Db(image, tone) < -50, $"image at {8000 - frequency} Hz only {Db(image, tone):F1} dB down");
    }

    [Theory]
    [InlineData(1000, false)]
    [InlineData(3000, false)]
    [InlineData(5000, true)]
    [InlineData(6000, true)]
    [InlineData(7000, true)]
    public void Halving_the_rate_keeps_what_fits_and_does_not_fold_back_what_does_not(double frequency, bool aboveNyquist)
    {
        var input = new short[16000];
        Goertzel.Tone(input, frequency, 0, rate: 16000);
        var down = new Downsampler();
        var output = Run((i, o) => down.Process(i, o), input, 320, 0.5);
        var settled = output.AsSpan(1600, 6400);
        var reference = Goertzel.Power(input.AsSpan(3200, 12800), frequency, 16000);
        if (aboveNyquist)
        {
            // Without the low-pass a 6 kHz tone would be heard as 2 kHz at the narrowband phone.
            var alias = Goertzel.Power(settled, 8000 - frequency);
            Assert.True(Db(alias, reference) < -45, $"{frequency} Hz folds back to {8000 - frequency} Hz at {Db(alias, reference):F1} dB");
        }
        else
        {
            Assert.InRange(Db(Goertzel.Power(settled, frequency), reference), -0.5, 0.5);
        }
    }

    [Fact]
    public void The_filter_has_unity_gain_and_the_history_carries_across_frames()
    {
        // Constant input: after the filter length, every output sample equals it (no ripple between frames).
        var input = Enumerable.Repeat((short)10000, 640).ToArray();
        var up = new Upsampler();
        var output = Run((i, o) => up.Process(i, o), input, 160, 2);
        Assert.All(output.AsSpan(200).ToArray(), s => Assert.InRange(s, (short)9990, (short)10010));

        var down = new Downsampler();
        var halved = Run((i, o) => down.Process(i, o), output, 320, 0.5);
        Assert.All(halved.AsSpan(200).ToArray(), s => Assert.InRange(s, (short)9990, (short)10010));
    }
}
