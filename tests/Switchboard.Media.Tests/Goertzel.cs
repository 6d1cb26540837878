namespace Switchboard.Media.Tests;

/// <summary>Test helper: power of one frequency in a block of samples (Goertzel), and sine tone generation.</summary>
internal static class Goertzel
{
    public const int SampleRate = 8000;

    /// <summary>Normalised power of <paramref name="frequency"/>: amplitude² of a pure tone of that frequency, roughly.</summary>
    public static double Power(ReadOnlySpan<short> samples, double frequency, int rate = SampleRate)
    {
        var coefficient = 2 * Math.Cos(2 * Math.PI * frequency / rate);
        double s1 = 0, s2 = 0;
        foreach (var sample in samples)
        {
            var s0 = sample + (coefficient * s1) - s2;
            s2 = s1;
            s1 = s0;
        }

        var power = (s1 * s1) + (s2 * s2) - (coefficient * s1 * s2);
        var n = samples.Length;
        return power * 4 / ((double)n * n);
    }

    /// <summary>Fills <paramref name="frame"/> with a sine tone continuing at sample index <paramref name="start"/>.</summary>
    public static void Tone(Span<short> frame, double frequency, long start, double amplitude = 8000, int rate = SampleRate)
    {
        for (var i = 0; i < frame.Length; i++)
        {
            frame[i] = (short)Math.Round(amplitude * Math.Sin(2 * Math.PI * frequency * (start + i) / rate));
        }
    }
}
