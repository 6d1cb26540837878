namespace Switchboard.Media.Mixing;

/// <summary>
/// The low-pass FIR both rate converters share: 64 taps, Kaiser window (β 7, about 70 dB stop band), cut-off 3.9 kHz
/// at 16 kHz. It passes the telephone band (to about 3.4 kHz) flat and removes what lies above 4 kHz, which would
/// otherwise fold back as aliases when 16 kHz audio is decimated, or appear as images when 8 kHz audio is doubled.
/// Coefficients are Q15 integers so that a frame is integer multiply-adds only.
/// </summary>
internal static class HalfRateFilter
{
    public const int Taps = 64;

    private const double CutoffHz = 3900;
    private const double RateHz = 16000;
    private const double Beta = 7;

    /// <summary>The taps in Q15, summing to 32768 (unity gain at DC).</summary>
    public static readonly int[] Coefficients = Design();

    private static int[] Design()
    {
        var taps = new double[Taps];
        var centre = (Taps - 1) / 2.0;
        var fc = CutoffHz / RateHz;
        var sum = 0.0;
        for (var n = 0; n < Taps; n++)
        {
            var t = n - centre;
            var sinc = 2 * fc * Sinc(2 * fc * t);
            var ratio = t / centre;
            var window = BesselI0(Beta * Math.Sqrt(Math.Max(0, 1 - (ratio * ratio)))) / BesselI0(Beta);
            taps[n] = sinc * window;
            sum += taps[n];
        }

        var q15 = new int[Taps];
        for (var n = 0; n < Taps; n++)
        {
            q15[n] = (int)Math.Round(taps[n] / sum * 32768);
        }

        return q15;
    }

    private static double Sinc(double x) => x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    private static double BesselI0(double x)
    {
        // The power series converges quickly for the β used here.
        double sum = 1, term = 1;
        for (var k = 1; k < 30; k++)
        {
            term *= x / (2 * k) * (x / (2 * k));
            sum += term;
        }

        return sum;
    }
}

/// <summary>
/// 8 kHz to 16 kHz for one stream: a polyphase form of "insert a zero after each sample, then low-pass", so each output
/// sample costs 32 multiply-adds. Keeps the last input samples between frames; not thread-safe.
/// </summary>
public sealed class Upsampler
{
    private const int History = HalfRateFilter.Taps / 2;

    // History (the previous frame's tail) followed by the current frame.
    private readonly short[] _line = new short[History + ConferenceMixer.WidebandFrameSamples];

    /// <summary>Doubles the rate of <paramref name="input"/> into <paramref name="output"/> (twice as long); returns the samples written.</summary>
    public int Process(ReadOnlySpan<short> input, Span<short> output)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(input.Length, ConferenceMixer.WidebandFrameSamples, nameof(input));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, input.Length * 2, nameof(output));
        var line = _line.AsSpan(0, History + input.Length);
        input.CopyTo(line[History..]);
        var h = HalfRateFilter.Coefficients;
        for (var n = 0; n < input.Length; n++)
        {
            // Output 2n uses the even taps, 2n+1 the odd ones, each against the newest History input samples up to n.
            int even = 0, odd = 0;
            var newest = n + History;
            for (var k = 0; k < History; k++)
            {
                int x = line[newest - k];
                even += h[2 * k] * x;
                odd += h[(2 * k) + 1] * x;
            }

            // The zeros carry no energy, so each phase is scaled by two to keep the level.
            output[2 * n] = Saturate(even >> 14);
            output[(2 * n) + 1] = Saturate(odd >> 14);
        }

        line[input.Length..].CopyTo(_line);
        return input.Length * 2;
    }

    /// <summary>Forgets the history (after silence or a new stream), as if zeros had come before.</summary>
    public void Reset() => Array.Clear(_line);

    private static short Saturate(int value) => (short)Math.Clamp(value, short.MinValue, short.MaxValue);
}

/// <summary>
/// 16 kHz to 8 kHz for one stream: low-pass, then keep every other sample (only those are computed: 64 multiply-adds
/// each). Keeps the last input samples between frames; not thread-safe.
/// </summary>
public sealed class Downsampler
{
    private const int History = HalfRateFilter.Taps - 1;

    private readonly short[] _line = new short[History + ConferenceMixer.WidebandFrameSamples];

    /// <summary>Halves the rate of an even-length <paramref name="input"/> into <paramref name="output"/>; returns the samples written.</summary>
    public int Process(ReadOnlySpan<short> input, Span<short> output)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(input.Length, ConferenceMixer.WidebandFrameSamples, nameof(input));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, input.Length / 2, nameof(output));
        var line = _line.AsSpan(0, History + input.Length);
        input.CopyTo(line[History..]);
        var h = HalfRateFilter.Coefficients;
        var count = input.Length / 2;
        for (var n = 0; n < count; n++)
        {
            var newest = (2 * n) + 1 + History;
            var acc = 0;
            for (var k = 0; k < HalfRateFilter.Taps; k++)
            {
                acc += h[k] * line[newest - k];
            }

            output[n] = (short)Math.Clamp(acc >> 15, short.MinValue, short.MaxValue);
        }

        line[input.Length..].CopyTo(_line);
        return count;
    }

    /// <summary>Forgets the history.</summary>
    public void Reset() => Array.Clear(_line);
}
