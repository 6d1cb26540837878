using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Switchboard.Media.Codecs;
using Switchboard.Media.Jitter;
using Switchboard.Media.Mixing;
using Switchboard.Media.Rtp;

namespace Switchboard.Bench.Media;

/// <summary>
/// Media engine cost, in process and without sockets, for conferences of three members in G.711, G.722, Opus and a
/// mix of the three: (a) CPU time per mixed 20 ms frame (RTP parse, decode, jitter buffer, 8↔16 kHz conversion where
/// needed, mix, encode, RTP write); (b) how many such conferences one mixing thread carries at real 20 ms ticks
/// without a tick overrunning its slot. All scenarios run in the same process, one after the other.
/// </summary>
internal static class MediaBench
{
    private const int Parties = 3;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Per-packet work between the wire and the codec, in both directions: none in this build. SRTP (RFC 3711) plugs in
    /// here as one more scenario once the media engine has it: unprotect on receive, protect on send.
    /// </summary>
    internal interface IPacketStage
    {
        string Name { get; }

        /// <summary>A received datagram of <paramref name="length"/> bytes; returns the RTP length left (authentication tag removed).</summary>
        int Inbound(Span<byte> datagram, int length);

        /// <summary>An RTP packet of <paramref name="length"/> bytes about to be sent; returns the datagram length.</summary>
        int Outbound(Span<byte> datagram, int length);
    }

    private static readonly (string Name, AudioCodec[] Codecs, IPacketStage? Stage)[] Scenarios =
    [
        ("G.711", [AudioCodec.Pcmu, AudioCodec.Pcma, AudioCodec.Pcmu], null),
        ("G.722", [AudioCodec.G722, AudioCodec.G722, AudioCodec.G722], null),
        ("Opus", [AudioCodec.Opus, AudioCodec.Opus, AudioCodec.Opus], null),
        ("Opus+G.722+PCMU", [AudioCodec.Opus, AudioCodec.G722, AudioCodec.Pcmu], null),
    ];

    public static int Run(string[] args)
    {
        double seconds = 3;
        var ticksPerStep = 100;
        var start = 0;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--ticks": ticksPerStep = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--start": start = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
            }
        }

        string[]? only = null;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--codecs")
            {
                only = args[i + 1].Split(',');
            }
        }

        Console.WriteLine($"Media engine benchmark: {Environment.ProcessorCount} cores, one mixing thread, three-party conferences");
        var summary = new List<(string Name, int Rate, double CpuPerTick, int PerCore, int WallFit)>();
        foreach (var scenario in Scenarios)
        {
            if (only is not null && !only.Contains(scenario.Name, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            Console.WriteLine();
            Console.WriteLine($"=== {scenario.Name} ({string.Join(", ", scenario.Codecs)}){(scenario.Stage is { } stage ? " with " + stage.Name : "")}");
            var cpuPerTick = PerFrame(scenario.Codecs, seconds, out var rate);

            // The ramp starts near half of what the back-to-back figure promises, so every scenario takes a few steps.
            var first = start > 0 ? start : Math.Max(1, (int)(0.5 * Tick.TotalMicroseconds / cpuPerTick));
            var (perCore, wallFit) = Capacity(scenario.Codecs, first, ticksPerStep);
            summary.Add((scenario.Name, rate, cpuPerTick, perCore, wallFit));
        }

        Console.WriteLine();
        Console.WriteLine("Summary (three-party conferences, one mixing thread; per-core figure from the thread's CPU time)");
        Console.WriteLine($"    {"members",-18} {"mixer",6} {"CPU µs/tick",12} {"µs/party frame",15} {"conf./core",11} {"vs G.711",9} {"fit wall",9}");
        var baseline = summary.FirstOrDefault(s => s.Name == "G.711");
        foreach (var row in summary)
        {
            var ratio = baseline.PerCore > 0 ? $"{row.PerCore / (double)baseline.PerCore:P0}" : "-";
            Console.WriteLine($"    {row.Name,-18} {row.Rate / 1000,4}k {row.CpuPerTick,12:F2} {row.CpuPerTick / Parties,15:F2} {row.PerCore,11:N0} {ratio,9} {row.WallFit,9:N0}");
        }

        return 0;
    }

    private static double PerFrame(AudioCodec[] codecs, double seconds, out int rate)
    {
        var conference = new SimulatedConference(codecs);
        rate = conference.Rate;
        for (var i = 0; i < 10_000; i++)
        {
            conference.RunTick(); // JIT tiering warm-up
        }

        long ticks = 0;
        var allocBefore = GC.GetAllocatedBytesForCurrentThread();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds)
        {
            for (var i = 0; i < 1000; i++)
            {
                conference.RunTick();
            }

            ticks += 1000;
        }

        watch.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var alloc = GC.GetAllocatedBytesForCurrentThread() - allocBefore;
        var wallPerTick = watch.Elapsed.TotalMicroseconds / ticks;
        Console.WriteLine();
        Console.WriteLine("(a) one three-party conference, ticks back to back");
        Console.WriteLine($"    ticks run                       {ticks:N0}");
        Console.WriteLine($"    time per conference tick        {wallPerTick:F2} µs (wall), {cpu.TotalMicroseconds / ticks:F2} µs (process CPU)");
        Console.WriteLine($"    time per party frame            {wallPerTick / Parties:F2} µs (one 20 ms frame in and out for one phone)");
        Console.WriteLine($"    bytes allocated per tick        {alloc / (double)ticks:F2}");
        Console.WriteLine($"    frames lost / late in the run   {conference.Lost} / {conference.Late}");
        return cpu.TotalMicroseconds / ticks;
    }

    private static (int PerCore, int WallFit) Capacity(AudioCodec[] codecs, int start, int ticksPerStep)
    {
        Console.WriteLine();
        Console.WriteLine($"(b) N three-party conferences on one thread at real 20 ms ticks (absolute deadlines), {ticksPerStep} ticks per step");
        Console.WriteLine("    overrun = a tick's work took longer than its 20 ms slot: wall clock (includes being preempted by other");
        Console.WriteLine("    processes on this shared machine) and the thread's own CPU time (what one core needs); the ramp grows");
        Console.WriteLine("    by 25 % per step and stops at the first CPU overrun (a first step that overruns is halved until one fits)");
        Console.WriteLine($"    load average before: {LoadAverage()}");
        Console.WriteLine($"    {"conferences",11} {"wall mean µs",13} {"wall max µs",12} {"CPU mean µs",12} {"CPU max µs",11} {"wall overruns",14} {"CPU overruns",13}");
        var bestWall = (Count: 0, Result: default(StepResult));
        var bestCpu = (Count: 0, Result: default(StepResult));
        var count = start;
        while (true)
        {
            var result = Step(codecs, count, ticksPerStep);
            Console.WriteLine($"    {count,11:N0} {result.WallMean,13:N0} {result.WallMax,12:N0} {result.CpuMean,12:N0} {result.CpuMax,11:N0} {result.WallOverruns,14} {result.CpuOverruns,13}");
            if (result.CpuOverruns > 0)
            {
                // A first guess that was already too much is halved until a step fits; after that the first overrun ends the ramp.
                if (bestCpu.Count == 0 && count > 1)
                {
                    count /= 2;
                    continue;
                }

                break;
            }

            bestCpu = (count, result);
            if (result.WallOverruns == 0 && count > bestWall.Count)
            {
                bestWall = (count, result);
            }

            count = Math.Max(count + 1, (int)(count * 1.25));
        }

        Console.WriteLine();
        Console.WriteLine($"    highest count with no wall-clock overrun: {bestWall.Count:N0} conferences ({bestWall.Count * Parties:N0} parties), " +
            $"wall mean {bestWall.Result.WallMean:N0} µs / max {bestWall.Result.WallMax:N0} µs per 20,000 µs tick");
        Console.WriteLine($"    highest count whose work fits one core (no tick over 20 ms CPU): {bestCpu.Count:N0} conferences ({bestCpu.Count * Parties:N0} parties), " +
            $"CPU mean {bestCpu.Result.CpuMean:N0} µs / max {bestCpu.Result.CpuMax:N0} µs per tick");
        Console.WriteLine($"    load average after: {LoadAverage()}");
        return (bestCpu.Count, bestWall.Count);
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static StepResult Step(AudioCodec[] codecs, int count, int ticks)
    {
        var conferences = new SimulatedConference[count];
        for (var i = 0; i < count; i++)
        {
            conferences[i] = new SimulatedConference(codecs);
        }

        // Warm-up ticks bring every buffer past its playout delay and into the caches; the collection keeps the
        // previous step's garbage out of the timed ticks.
        for (var t = 0; t < 5; t++)
        {
            foreach (var conference in conferences)
            {
                conference.RunTick();
            }
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var wall = new double[ticks];
        var cpu = new double[ticks];
        int wallOverruns = 0, cpuOverruns = 0;
        var period = (long)(Tick.TotalSeconds * Stopwatch.Frequency);
        var origin = Stopwatch.GetTimestamp() + period;
        for (var t = 0; t < ticks; t++)
        {
            var deadline = origin + (t * period);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var remaining = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                if (remaining > 1)
                {
                    Thread.Sleep((int)remaining - 1);
                }
                else
                {
                    Thread.SpinWait(100);
                }
            }

            var cpuBegin = ThreadCpuMicroseconds();
            var begin = Stopwatch.GetTimestamp();
            foreach (var conference in conferences)
            {
                conference.RunTick();
            }

            wall[t] = (Stopwatch.GetTimestamp() - begin) * 1e6 / Stopwatch.Frequency;
            cpu[t] = ThreadCpuMicroseconds() - cpuBegin;
            wallOverruns += wall[t] > Tick.TotalMicroseconds ? 1 : 0;
            cpuOverruns += cpu[t] > Tick.TotalMicroseconds ? 1 : 0;
        }

        return new StepResult(wall.Average(), wall.Max(), cpu.Average(), cpu.Max(), wallOverruns, cpuOverruns);
    }

    private static double ThreadCpuMicroseconds()
    {
        // CLOCK_THREAD_CPUTIME_ID: time this thread actually ran, whatever else the machine is doing.
        return clock_gettime(3, out var time) == 0 ? (time.Seconds * 1e6) + (time.Nanoseconds / 1e3) : double.NaN;
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private readonly record struct StepResult(double WallMean, double WallMax, double CpuMean, double CpuMax, int WallOverruns, int CpuOverruns);

    /// <summary>The engine's per-tick work for one conference (as Conference.Tick and RtpEndpoint do it), with the network replaced by buffers.</summary>
    private sealed class SimulatedConference
    {
        private static readonly double[] Tones = [440, 1000, 1700];

        private readonly ConferenceMixer _mixer = new();
        private readonly Party[] _parties = new Party[Parties];

        public SimulatedConference(AudioCodec[] codecs)
        {
            // As Conference.Reconfigure: 16 kHz as soon as one member is wideband.
            _mixer.SampleRate = codecs.Any(AudioCodecs.IsWideband) ? 16000 : 8000;
            for (var i = 0; i < Parties; i++)
            {
                _parties[i] = new Party(_mixer.Join(), codecs[i], Tones[i], _mixer.SampleRate);
            }
        }

        public int Rate => _mixer.SampleRate;

        public long Lost => _parties.Sum(p => p.Jitter.Lost);

        public long Late => _parties.Sum(p => p.Jitter.Late);

        public void RunTick()
        {
            // What the receive loops do: parse, decode, put into the jitter buffer (under the endpoint's lock).
            foreach (var party in _parties)
            {
                party.Receive();
            }

            // What the clock does: read the jitter buffers, convert rates, mix, encode and write one packet per party.
            foreach (var party in _parties)
            {
                party.Read();
            }

            _mixer.Mix();
            foreach (var party in _parties)
            {
                party.Send();
            }
        }

        private sealed class Party
        {
            // One second of the tone, encoded once: the receive side cycles through it as a phone's stream.
            private const int Frames = 50;

            private readonly AudioTranscoder _decoder;
            private readonly AudioTranscoder _encoder;
            private readonly byte _payloadType;
            private readonly byte[][] _incoming = new byte[Frames][];
            private readonly short[] _decoded = new short[JitterBuffer.MaxFrameSamples];
            private readonly short[] _frame = new short[JitterBuffer.MaxFrameSamples];
            private readonly byte[] _encoded = new byte[AudioTranscoder.MaxPayloadBytes];
            private readonly byte[] _outgoing = new byte[RtpPacket.FixedHeaderSize + AudioTranscoder.MaxPayloadBytes];
            private readonly Upsampler _up = new();
            private readonly Downsampler _down = new();
            private readonly bool _convert;
            private readonly uint _step;
            private ushort _inSequence;
            private ushort _outSequence;
            private uint _outTimestamp;

            public Party(MixerParty mixerParty, AudioCodec codec, double tone, int mixerRate)
            {
                MixerParty = mixerParty;
                _decoder = AudioTranscoder.Create(codec);
                _encoder = AudioTranscoder.Create(codec);
                _payloadType = AudioCodecs.DefaultPayloadType(codec);
                _convert = _decoder.SampleRate != mixerRate;
                _step = (uint)(AudioCodecs.ClockRate(codec) / 50);
                Jitter.Reset(_decoder.FrameSamples);
                var source = AudioTranscoder.Create(codec);
                var samples = new short[source.FrameSamples];
                var payload = new byte[AudioTranscoder.MaxPayloadBytes];
                for (var f = 0; f < Frames; f++)
                {
                    for (var i = 0; i < samples.Length; i++)
                    {
                        samples[i] = (short)(8000 * Math.Sin(2 * Math.PI * tone * ((f * samples.Length) + i) / source.SampleRate));
                    }

                    var length = source.Encode(samples, payload);
                    _incoming[f] = new byte[RtpPacket.FixedHeaderSize + length];
                    new RtpPacket(_payloadType, 0, 0, 0x1234, payload.AsSpan(0, length)).TryWrite(_incoming[f], out _);
                }
            }

            public Lock Gate { get; } = new();

            public JitterBuffer Jitter { get; } = new(2);

            public MixerParty MixerParty { get; }

            public void Receive()
            {
                var incoming = _incoming[_inSequence % Frames];
                BinaryPrimitives.WriteUInt16BigEndian(incoming.AsSpan(2), _inSequence++);
                if (!RtpPacket.TryParse(incoming, out var packet) || packet.PayloadType != _payloadType)
                {
                    throw new InvalidOperationException("bench packet does not parse");
                }

                var decoded = _decoder.Decode(packet.Payload, _decoded);
                if (decoded <= 0)
                {
                    throw new InvalidOperationException("bench packet does not decode");
                }

                lock (Gate)
                {
                    Jitter.Put(packet.SequenceNumber, packet.Ssrc, _decoded.AsSpan(0, decoded));
                }
            }

            public void Read()
            {
                bool read;
                lock (Gate)
                {
                    read = Jitter.TryRead(_convert ? _frame : MixerParty.Input);
                }

                if (read && _convert)
                {
                    _up.Process(_frame.AsSpan(0, Jitter.FrameLength), MixerParty.Input);
                }

                MixerParty.HasInput = read;
            }

            public void Send()
            {
                ReadOnlySpan<short> output = MixerParty.Output;
                if (_convert)
                {
                    var written = _down.Process(output, _frame);
                    output = _frame.AsSpan(0, written);
                }

                var length = _encoder.Encode(output, _encoded);
                new RtpPacket(_payloadType, _outSequence++, _outTimestamp, 0x5678, _encoded.AsSpan(0, length)).TryWrite(_outgoing, out _);
                _outTimestamp += _step;
            }
        }
    }
}
