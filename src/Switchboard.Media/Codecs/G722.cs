namespace Switchboard.Media.Codecs;

/// <summary>
/// ITU-T G.722 at 64 kbit/s (mode 1): sub-band ADPCM. A 24-tap QMF splits 16 kHz audio into a lower band (0–4 kHz,
/// 6-bit ADPCM) and a higher band (4–8 kHz, 2-bit ADPCM); each pair of input samples becomes one byte, the higher
/// band's two bits on top. The block names (RECONS, UPPOL2 …) are those of the Recommendation's description.
/// </summary>
/// <remarks>
/// RFC 3551 §4.5.2: the RTP clock of G.722 runs at 8000 Hz although the audio is sampled at 16 kHz (a historical
/// error kept for compatibility), so one byte is one timestamp unit and a 20 ms packet is 160 bytes and 160 units.
/// </remarks>
public static class G722
{
    /// <summary>The static RTP payload type of G.722.</summary>
    public const byte PayloadType = 9;

    /// <summary>The audio sample rate (the RTP clock is 8000 Hz, see the remarks).</summary>
    public const int SampleRate = 16000;

    // QMF coefficients h(0), h(2) … h(22) of the 24-tap filter; the odd taps are the same in reverse order.
    internal static readonly short[] Qmf = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

    // Lower band: quantiser decision levels (×det >> 12), the 6-bit codes for negative and positive differences,
    // the inverse quantiser outputs for 4 and 6 bits, the log-scale factor adaptation and the scale table.
    internal static readonly short[] Q6 =
    [
        0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
        786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
    ];

    internal static readonly byte[] Iln =
    [
        0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
        18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0,
    ];

    internal static readonly byte[] Ilp =
    [
        0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
        46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0,
    ];

    internal static readonly short[] Qm4 =
    [
        0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
        20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
    ];

    internal static readonly short[] Qm6 =
    [
        -136, -136, -136, -136, -24808, -21904, -19008, -16704,
        -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
        -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
        -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
        24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
        10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
        4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
        1688, 1360, 1040, 728, 432, 136, -432, -136,
    ];

    internal static readonly short[] Wl = [-60, -30, 58, 172, 334, 538, 1198, 3042];

    internal static readonly byte[] Rl42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

    internal static readonly short[] Ilb =
    [
        2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
        2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
    ];

    // Higher band: inverse quantiser, codes for negative/positive differences, scale factor adaptation.
    internal static readonly short[] Qm2 = [-7408, -1616, 7408, 1616];
    internal static readonly byte[] Ihn = [0, 1, 0];
    internal static readonly byte[] Ihp = [0, 3, 2];
    internal static readonly short[] Wh = [0, -214, 798];
    internal static readonly byte[] Rh2 = [2, 1, 2, 1];

    internal static int Saturate(int value) => Math.Clamp(value, short.MinValue, short.MaxValue);
}

/// <summary>The adaptive predictor of one sub-band (G.722 blocks 3 and 4), shared by encoder and decoder.</summary>
internal struct G722Band
{
    private const int LowerMaxLog = 18432;
    private const int HigherMaxLog = 22528;

    // Signal estimate, pole and zero parts of it.
    public int S;
    private int _sp;
    private int _sz;

    // The last two reconstructed (r) and partially reconstructed (p) samples, the last six quantised differences
    // (d), and the pole (a) and zero (b) predictor coefficients.
    private int _r1, _r2;
    private int _p0, _p1;
    private int _a1, _a2;
    private InlineSix _d;
    private InlineSix _b;

    // Log scale factor and the quantiser scale derived from it.
    private int _nb;
    public int Det;

    public static G722Band Lower() => new() { Det = 32 };

    public static G722Band Higher() => new() { Det = 8 };

    /// <summary>Block 3L: adapts the lower band's scale factor to the 4-bit code just seen.</summary>
    public void AdaptLower(int code4)
    {
        var nb = ((_nb * 127) >> 7) + G722.Wl[G722.Rl42[code4]];
        _nb = Math.Clamp(nb, 0, LowerMaxLog);
        Det = Scale(_nb, 8);
    }

    /// <summary>Block 3H: adapts the higher band's scale factor to the 2-bit code just seen.</summary>
    public void AdaptHigher(int code2)
    {
        var nb = ((_nb * 127) >> 7) + G722.Wh[G722.Rh2[code2]];
        _nb = Math.Clamp(nb, 0, HigherMaxLog);
        Det = Scale(_nb, 10);
    }

    /// <summary>Block 4: reconstructs with the quantised difference <paramref name="d"/>, adapts the predictor, predicts the next sample.</summary>
    public void Update(int d)
    {
        // RECONS and PARREC.
        var r0 = G722.Saturate(S + d);
        var p0 = G722.Saturate(_sz + d);

        // UPPOL2: second pole coefficient, from the signs of the last three partial reconstructions.
        int sg0 = p0 >> 15, sg1 = _p0 >> 15, sg2 = _p1 >> 15;
        var wd1 = G722.Saturate(_a1 << 2);
        var wd2 = sg0 == sg1 ? -wd1 : wd1;
        if (wd2 > short.MaxValue)
        {
            wd2 = short.MaxValue;
        }

        var wd3 = (sg0 == sg2 ? 128 : -128) + (wd2 >> 7) + ((_a2 * 32512) >> 15);
        var a2 = Math.Clamp(wd3, -12288, 12288);

        // UPPOL1: first pole coefficient, kept inside the stability triangle of the second.
        var a1 = G722.Saturate((sg0 == sg1 ? 192 : -192) + ((_a1 * 32640) >> 15));
        var limit = G722.Saturate(15360 - a2);
        a1 = Math.Clamp(a1, -limit, limit);

        // UPZERO: the six zero coefficients, leaking towards zero, nudged by sign agreement of the differences.
        var step = d == 0 ? 0 : 128;
        var sgd = d >> 15;
        Span<int> b = _b;

        // The delay line dh[0..5] holds d(n-1) … d(n-6).
        Span<int> dh = _d;
        for (var i = 0; i < 6; i++)
        {
            var agree = (dh[i] >> 15) == sgd ? step : -step;
            b[i] = G722.Saturate(agree + ((b[i] * 32640) >> 15));
        }

        // DELAYA.
        for (var i = 5; i > 0; i--)
        {
            dh[i] = dh[i - 1];
        }

        dh[0] = d;
        _r2 = _r1;
        _r1 = r0;
        _p1 = _p0;
        _p0 = p0;
        _a1 = a1;
        _a2 = a2;

        // FILTEP: pole part of the prediction from the last two reconstructed samples.
        var pole1 = (_a1 * G722.Saturate(_r1 + _r1)) >> 15;
        var pole2 = (_a2 * G722.Saturate(_r2 + _r2)) >> 15;
        _sp = G722.Saturate(pole1 + pole2);

        // FILTEZ: zero part from the last six differences.
        var sz = 0;
        for (var i = 5; i >= 0; i--)
        {
            sz += (b[i] * G722.Saturate(dh[i] + dh[i])) >> 15;
        }

        _sz = G722.Saturate(sz);

        // PREDIC.
        S = G722.Saturate(_sp + _sz);
    }

    private static int Scale(int nb, int offset)
    {
        var mantissa = G722.Ilb[(nb >> 6) & 31];
        var shift = offset - (nb >> 11);
        var det = shift < 0 ? mantissa << -shift : mantissa >> shift;
        return det << 2;
    }

    [System.Runtime.CompilerServices.InlineArray(6)]
    private struct InlineSix
    {
        private int _element;
    }
}

/// <summary>A G.722 64 kbit/s encoder: 16 kHz samples in, one byte per two samples out. Keeps state across frames.</summary>
public sealed class G722Encoder
{
    private readonly int[] _qmf = new int[24];
    private G722Band _low = G722Band.Lower();
    private G722Band _high = G722Band.Higher();

    /// <summary>Encodes an even number of samples into <c>samples.Length / 2</c> bytes; returns the bytes written.</summary>
    public int Encode(ReadOnlySpan<short> samples, Span<byte> encoded)
    {
        if ((samples.Length & 1) != 0)
        {
            throw new ArgumentException("G.722 encodes pairs of samples", nameof(samples));
        }

        var count = samples.Length / 2;
        ArgumentOutOfRangeException.ThrowIfLessThan(encoded.Length, count, nameof(encoded));
        var x = _qmf.AsSpan();
        var h = G722.Qmf;
        for (var n = 0; n < count; n++)
        {
            // Transmit QMF: the two newest samples enter the delay line, one sample of each band comes out.
            x[2..].CopyTo(x);
            x[22] = samples[2 * n];
            x[23] = samples[(2 * n) + 1];
            int odd = 0, even = 0;
            for (var i = 0; i < 12; i++)
            {
                odd += x[2 * i] * h[i];
                even += x[(2 * i) + 1] * h[11 - i];
            }

            var xlow = (even + odd) >> 14;
            var xhigh = (even - odd) >> 14;

            // Lower band: 6-bit quantisation of the prediction error (block 1L), inverse 4-bit quantisation (2L).
            var el = G722.Saturate(xlow - _low.S);
            var magnitude = el >= 0 ? el : -(el + 1);
            var level = 1;
            while (level < 30 && magnitude >= (G722.Q6[level] * _low.Det) >> 12)
            {
                level++;
            }

            var ilow = el < 0 ? G722.Iln[level] : G722.Ilp[level];
            var code4 = ilow >> 2;
            var dlow = (_low.Det * G722.Qm4[code4]) >> 15;
            _low.AdaptLower(code4);
            _low.Update(dlow);

            // Higher band: 2-bit quantisation (block 1H), inverse quantisation (2H).
            var eh = G722.Saturate(xhigh - _high.S);
            var hmagnitude = eh >= 0 ? eh : -(eh + 1);
            var mih = hmagnitude >= (564 * _high.Det) >> 12 ? 2 : 1;
            var ihigh = eh < 0 ? G722.Ihn[mih] : G722.Ihp[mih];
            var dhigh = (_high.Det * G722.Qm2[ihigh]) >> 15;
            _high.AdaptHigher(ihigh);
            _high.Update(dhigh);

            encoded[n] = (byte)((ihigh << 6) | ilow);
        }

        return count;
    }
}

/// <summary>A G.722 64 kbit/s decoder: one byte in, two 16 kHz samples out. Keeps state across frames.</summary>
public sealed class G722Decoder
{
    private readonly int[] _qmf = new int[24];
    private G722Band _low = G722Band.Lower();
    private G722Band _high = G722Band.Higher();

    /// <summary>Decodes <paramref name="encoded"/> into <c>2 × encoded.Length</c> samples; returns the samples written.</summary>
    public int Decode(ReadOnlySpan<byte> encoded, Span<short> samples)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples.Length, encoded.Length * 2, nameof(samples));
        var x = _qmf.AsSpan();
        var h = G722.Qmf;
        for (var n = 0; n < encoded.Length; n++)
        {
            var code = encoded[n];
            var ilow = code & 0x3F;
            var ihigh = code >> 6;

            // Lower band: the full 6-bit code reconstructs the output; the 4-bit core adapts the predictor, as in the encoder.
            var rlow = Math.Clamp(_low.S + ((_low.Det * G722.Qm6[ilow]) >> 15), -16384, 16383);
            var code4 = ilow >> 2;
            var dlow = (_low.Det * G722.Qm4[code4]) >> 15;
            _low.AdaptLower(code4);
            _low.Update(dlow);

            var dhigh = (_high.Det * G722.Qm2[ihigh]) >> 15;
            var rhigh = Math.Clamp(dhigh + _high.S, -16384, 16383);
            _high.AdaptHigher(ihigh);
            _high.Update(dhigh);

            // Receive QMF: the two band samples enter the delay line, two 16 kHz samples come out.
            x[2..].CopyTo(x);
            x[22] = rlow + rhigh;
            x[23] = rlow - rhigh;
            int first = 0, second = 0;
            for (var i = 0; i < 12; i++)
            {
                second += x[2 * i] * h[i];
                first += x[(2 * i) + 1] * h[11 - i];
            }

            samples[2 * n] = (short)G722.Saturate(first >> 11);
            samples[(2 * n) + 1] = (short)G722.Saturate(second >> 11);
        }

        return encoded.Length * 2;
    }
}
