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
/// Media engine cost, in process and without sockets: (a) CPU time per mixed 20 ms frame of a three-party conference
/// (RTP parse, G.711 decode, jitter buffer, mix, G.711 encode, RTP write); (b) how many such conferences one mixing
/// thread carries at real 20 ms ticks without a tick overrunning its slot.
/// </summary>
internal static class MediaBench
{
    private const int FrameSamples = 160;
    private const int Parties = 3;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    public static int Run(string[] args)
    {
        double seconds = 3;
        var ticksPerStep = 100;
        var start = 500;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--ticks": ticksPerStep = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--start": start = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
            }
        }

        Console.WriteLine($"Media engine benchmark: {Environment.ProcessorCount} cores, one mixing thread, three-party conferences, G.711 (PCMU, PCMA, PCMU)");
        PerFrame(seconds);
        Capacity(start, ticksPerStep);
        return 0;
    }

    private static void PerFrame(double seconds)
    {
        var conference = new SimulatedConference();
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
    }

    private static void Capacity(int start, int ticksPerStep)
    {
        Console.WriteLine();
        Console.WriteLine($"(b) N three-party conferences on one thread at real 20 ms ticks (absolute deadlines), {ticksPerStep} ticks per step");
        Console.WriteLine("    overrun = a tick's work took longer than its 20 ms slot: wall clock (includes being preempted by other");
        Console.WriteLine("    processes on this shared machine) and the thread's own CPU time (what one core needs); the ramp grows");
        Console.WriteLine("    by 25 % per step and stops at the first CPU overrun");
        Console.WriteLine($"    load average before: {LoadAverage()}");
        Console.WriteLine($"    {"conferences",11} {"wall mean µs",13} {"wall max µs",12} {"CPU mean µs",12} {"CPU max µs",11} {"wall overruns",14} {"CPU overruns",13}");
        var bestWall = (Count: 0, Result: default(StepResult));
        var bestCpu = (Count: 0, Result: default(StepResult));
        var wallFailed = false;
        for (var count = start; ; count = (int)(count * 1.25))
        {
            var result = Step(count, ticksPerStep);
            Console.WriteLine($"    {count,11:N0} {result.WallMean,13:N0} {result.WallMax,12:N0} {result.CpuMean,12:N0} {result.CpuMax,11:N0} {result.WallOverruns,14} {result.CpuOverruns,13}");
            wallFailed |= result.WallOverruns > 0;
            if (!wallFailed)
            {
                bestWall = (count, result);
            }

            if (result.CpuOverruns > 0)
            {
                break;
            }

            bestCpu = (count, result);
        }

        Console.WriteLine();
        Console.WriteLine($"    highest count with no wall-clock overrun: {bestWall.Count:N0} conferences ({bestWall.Count * Parties:N0} parties), " +
            $"wall mean {bestWall.Result.WallMean:N0} µs / max {bestWall.Result.WallMax:N0} µs per 20,000 µs tick");
        Console.WriteLine($"    highest count whose work fits one core (no tick over 20 ms CPU): {bestCpu.Count:N0} conferences ({bestCpu.Count * Parties:N0} parties), " +
            $"CPU mean {bestCpu.Result.CpuMean:N0} µs / max {bestCpu.Result.CpuMax:N0} µs per tick");
        Console.WriteLine($"    load average after: {LoadAverage()}");
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

    private static StepResult Step(int count, int ticks)
    {
        var conferences = new SimulatedConference[count];
        for (var i = 0; i < count; i++)
        {
            conferences[i] = new SimulatedConference();
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

    /// <summary>The engine's per-tick work for one conference, with the network replaced by buffers.</summary>
    private sealed class SimulatedConference
    {
        private static readonly AudioCodec[] Codecs = [AudioCodec.Pcmu, AudioCodec.Pcma, AudioCodec.Pcmu];
        private static readonly double[] Tones = [440, 1000, 1700];

        private readonly ConferenceMixer _mixer = new();
        private readonly Party[] _parties = new Party[Parties];

        public SimulatedConference()
        {
            for (var i = 0; i < Parties; i++)
            {
                _parties[i] = new Party(_mixer.Join(), Codecs[i], Tones[i]);
            }
        }

        public long Lost => _parties.Sum(p => p.Jitter.Lost);

        public long Late => _parties.Sum(p => p.Jitter.Late);

        public void RunTick()
        {
            // What the receive loops do: parse, decode, put into the jitter buffer (under the endpoint's lock).
            foreach (var party in _parties)
            {
                party.Receive();
            }

            // What the clock does: read the jitter buffers, mix, encode and write one packet per party.
            foreach (var party in _parties)
            {
                lock (party.Gate)
                {
                    party.MixerParty.HasInput = party.Jitter.TryRead(party.MixerParty.Input);
                }
            }

            _mixer.Mix();
            foreach (var party in _parties)
            {
                party.Send();
            }
        }

        private sealed class Party
        {
            private readonly AudioCodec _codec;
            private readonly byte _payloadType;
            private readonly byte[] _incoming = new byte[RtpPacket.FixedHeaderSize + FrameSamples];
            private readonly short[] _decoded = new short[FrameSamples];
            private readonly byte[] _encoded = new byte[FrameSamples];
            private readonly byte[] _outgoing = new byte[RtpPacket.FixedHeaderSize + FrameSamples];
            private ushort _inSequence;
            private ushort _outSequence;
            private uint _outTimestamp;

            public Party(MixerParty mixerParty, AudioCodec codec, double tone)
            {
                MixerParty = mixerParty;
                _codec = codec;
                _payloadType = G711.PayloadType(codec);

                // 1 s of tone would repeat anyway; one frame of it keeps the incoming packet in the cache like a real one.
                var samples = new short[FrameSamples];
                for (var i = 0; i < FrameSamples; i++)
                {
                    samples[i] = (short)(8000 * Math.Sin(2 * Math.PI * tone * i / 8000));
                }

                var payload = new byte[FrameSamples];
                G711.Encode(codec, samples, payload);
                new RtpPacket(_payloadType, 0, 0, 0x1234, payload).TryWrite(_incoming, out _);
            }

            public Lock Gate { get; } = new();

            public JitterBuffer Jitter { get; } = new(2);

            public MixerParty MixerParty { get; }

            public void Receive()
            {
                BinaryPrimitives.WriteUInt16BigEndian(_incoming.AsSpan(2), _inSequence++);
                if (!RtpPacket.TryParse(_incoming, out var packet) || packet.PayloadType != _payloadType)
                {
                    throw new InvalidOperationException("bench packet does not parse");
                }

                var samples = _decoded.AsSpan(0, packet.Payload.Length);
                G711.Decode(_codec, packet.Payload, samples);
                lock (Gate)
                {
                    Jitter.Put(packet.SequenceNumber, packet.Ssrc, samples);
                }
            }

            public void Send()
            {
                G711.Encode(_codec, MixerParty.Output, _encoded);
                new RtpPacket(_payloadType, _outSequence++, _outTimestamp, 0x5678, _encoded).TryWrite(_outgoing, out _);
                _outTimestamp += FrameSamples;
            }
        }
    }
}
