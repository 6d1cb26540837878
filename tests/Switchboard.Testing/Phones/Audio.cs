namespace Switchboard.Testing.Phones;

/// <summary>WAV files of 16-bit PCM and a Goertzel tone check: what a phone played and what it heard.</summary>
public static class Audio
{
    /// <summary>Writes an 8 kHz mono 16-bit sine tone (long enough that baresip's aufile never reaches its end).</summary>
    public static void WriteTone(string path, double frequency, double seconds = 300, double amplitude = 8000)
    {
        const int rate = 8000;
        int n = (int)(rate * seconds);
        using var w = new BinaryWriter(File.Create(path));
        w.Write("RIFF"u8);
        w.Write(36 + n * 2);
        w.Write("WAVEfmt "u8);
        w.Write(16);
        w.Write((short)1);
        w.Write((short)1);
        w.Write(rate);
        w.Write(rate * 2);
        w.Write((short)2);
        w.Write((short)16);
        w.Write("data"u8);
        w.Write(n * 2);
        for (int i = 0; i < n; i++) w.Write((short)(amplitude * Math.Sin(2 * Math.PI * frequency * i / rate)));
    }

    /// <summary>Reads a 16-bit PCM WAV (first channel) and its sample rate.</summary>
    public static (short[] Samples, int Rate) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int pos = 12, rate = 8000, channels = 1;
        while (pos + 8 <= bytes.Length)
        {
            var id = System.Text.Encoding.ASCII.GetString(bytes, pos, 4);
            int size = BitConverter.ToInt32(bytes, pos + 4);
            if (id == "fmt ")
            {
                channels = BitConverter.ToInt16(bytes, pos + 10);
                rate = BitConverter.ToInt32(bytes, pos + 12);
            }
            else if (id == "data")
            {
                // A recording cut short by a killed phone may announce more data than it holds; one still being
                // written (baresip's sndfile during a call) announces none yet: both hold what is on disk.
                int available = Math.Min(size <= 0 ? int.MaxValue : size, bytes.Length - pos - 8);
                int frames = available / 2 / channels;
                var samples = new short[frames];
                for (int i = 0; i < frames; i++) samples[i] = BitConverter.ToInt16(bytes, pos + 8 + i * 2 * channels);
                return (samples, rate);
            }
            pos += 8 + size + (size & 1);
        }
        return ([], rate);
    }

    /// <summary>The strongest frequency between 100 and 3900 Hz (10 Hz steps) in up to 1 s from the middle.</summary>
    public static int DominantFrequency(short[] samples, int rate)
    {
        if (samples.Length < rate / 10) return 0;
        int mid = samples.Length / 2, half = Math.Min(rate / 2, mid);
        var seg = samples.AsSpan(mid - half, 2 * half);
        int best = 0;
        double bestPower = 0;
        for (int f = 100; f < Math.Min(3900, rate / 2); f += 10)
        {
            var p = Power(seg, rate, f);
            if (p > bestPower)
            {
                bestPower = p;
                best = f;
            }
        }
        return best;
    }

    /// <summary>Relative power of one frequency (Goertzel), normalised by segment length.</summary>
    public static double Power(ReadOnlySpan<short> seg, int rate, double frequency)
    {
        double k = 2 * Math.Cos(2 * Math.PI * frequency / rate), s1 = 0, s2 = 0;
        foreach (var v in seg)
        {
            double s0 = v + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        return (s1 * s1 + s2 * s2 - k * s1 * s2) / seg.Length / seg.Length;
    }

    /// <summary>
    /// Whether some one-second stretch of the recording holds every tone in <paramref name="expected"/> clearly (each
    /// at least a tenth of the strongest) while <paramref name="absent"/> stays far below them: "heard both others and
    /// not itself at the same time". The description lists each second's powers, for failure messages.
    /// </summary>
    public static bool HeardTogether(short[] samples, int rate, double[] expected, double absent, out string description)
    {
        var lines = new List<string>();
        bool found = false;
        for (int start = 0; start + rate <= samples.Length; start += rate / 2)
        {
            var seg = samples.AsSpan(start, rate);
            var powers = new double[expected.Length];
            for (int i = 0; i < expected.Length; i++) powers[i] = Power(seg, rate, expected[i]);
            double own = Power(seg, rate, absent), max = powers.Max(), min = powers.Min();
            lines.Add($"{start / (double)rate:0.0}s: " + string.Join(" ", expected.Select((f, i) => $"{f}Hz={powers[i]:E1}")) + $" own {absent}Hz={own:E1}");
            if (max > 1e4 && min > max / 10 && own < min / 10) found = true;
        }
        description = string.Join("\n", lines);
        return found;
    }

    /// <summary>Root mean square level.</summary>
    public static double Rms(short[] samples) => samples.Length == 0 ? 0 : Math.Sqrt(samples.Average(s => (double)s * s));
}
