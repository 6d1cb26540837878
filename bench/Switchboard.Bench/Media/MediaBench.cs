using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Switchboard.Media.Codecs;
using Switchboard.Media.Jitter;
using Switchboard.Media.Mixing;
using Switchboard.Media.Rtp;
using Switchboard.Media.Srtp;

namespace Switchboard.Bench.Media;

/// <summary>
/// Media engine cost, in process and without sockets, for conferences of three members in G.711, G.722, Opus and a
/// mix of the three, each also with SRTP on every member: (a) CPU time per mixed 20 ms frame (SRTP unprotect, RTP
/// parse, decode, jitter buffer, 8↔16 kHz conversion where needed, mix, encode, RTP write, SRTP protect), measured in
/// interleaved rounds (every scenario once per round, the order rotating) and reported as the median round, so a burst
/// of load on this shared machine hits all rows alike; (b) how many such conferences one mixing thread carries at real
/// 20 ms ticks without a tick overrunning its slot; (c) what SRTP adds to a relayed packet (unprotect + protect).
/// </summary>
internal static class MediaBench
{
    private const int Parties = 3;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Per-packet work between the wire and the codec of one member, in both directions (SRTP: unprotect on receive,
    /// protect on send, as RtpEndpoint does). A stage may rewrite the incoming stream it is given once, at set-up
    /// (the phone's side of the work, which is not the switch's cost).
    /// </summary>
    internal interface IPacketStage
    {
        string Name { get; }

        /// <summary>The phone's stream this member receives, as it comes off the wire; called once per party index and scenario.</summary>
        byte[][] Incoming(byte[][] plainStream);

        /// <summary>A received datagram of <paramref name="length"/> bytes; returns the RTP length left (authentication tag removed).</summary>
        int Inbound(Span<byte> datagram, int length);

        /// <summary>An RTP packet of <paramref name="length"/> bytes about to be sent; returns the datagram length.</summary>
        int Outbound(Span<byte> datagram, int length);

        /// <summary>The incoming stream starts over (its sequence numbers wrapped): the receive state starts afresh.</summary>
        void Restart();
    }

    private static readonly (string Name, AudioCodec[] Codecs, Func<int, IPacketStage>? Stage)[] Scenarios =
    [
        ("G.711", [AudioCodec.Pcmu, AudioCodec.Pcma, AudioCodec.Pcmu], null),
        ("G.711 SRTP", [AudioCodec.Pcmu, AudioCodec.Pcma, AudioCodec.Pcmu], party => new SrtpStage(party)),
        ("G.722", [AudioCodec.G722, AudioCodec.G722, AudioCodec.G722], null),
        ("Opus", [AudioCodec.Opus, AudioCodec.Opus, AudioCodec.Opus], null),
        ("Opus+G.722+PCMU", [AudioCodec.Opus, AudioCodec.G722, AudioCodec.Pcmu], null),
        ("Opus+G.722+PCMU SRTP", [AudioCodec.Opus, AudioCodec.G722, AudioCodec.Pcmu], party => new SrtpStage(party)),
    ];

    public static int Run(string[] args)
    {
        double seconds = 3;
        var ticksPerStep = 100;
        var start = 0;
        var rounds = 7;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--ticks": ticksPerStep = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--start": start = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = Math.Max(1, int.Parse(args[i + 1], CultureInfo.InvariantCulture)); break;
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
        var selected = Scenarios.Where(s => only is null || only.Contains(s.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        var perFrame = PerFrame(selected, seconds, rounds);
        var summary = new List<(string Name, int Rate, double CpuPerTick, int PerCore, int WallFit)>();
        for (var n = 0; n < selected.Length; n++)
        {
            var scenario = selected[n];
            var (cpuPerTick, rate) = perFrame[n];
            Console.WriteLine();
            Console.WriteLine($"=== {scenario.Name} ({string.Join(", ", scenario.Codecs)})");

            // The ramp starts near half of what the back-to-back figure promises, so every scenario takes a few steps.
            var first = start > 0 ? start : Math.Max(1, (int)(0.5 * Tick.TotalMicroseconds / cpuPerTick));
            var (perCore, wallFit) = Capacity(scenario.Codecs, scenario.Stage, first, ticksPerStep);
            summary.Add((scenario.Name, rate, cpuPerTick, perCore, wallFit));
        }

        if (only is null || only.Any(o => o.Contains("SRTP", StringComparison.OrdinalIgnoreCase)))
        {
            SrtpPerPacket(seconds, rounds);
        }

        Console.WriteLine();
        Console.WriteLine("Summary (three-party conferences, one mixing thread; per-core figure from the thread's CPU time)");
        Console.WriteLine($"    {"members",-18} {"mixer",6} {"CPU µs/tick",12} {"µs/party frame",15} {"conf./core",11} {"vs G.711",9} {"fit wall",9}");
        var baseline = summary.FirstOrDefault(s => s.Name == "G.711");
        foreach (var row in summary)
        {
            var ratio = baseline.PerCore > 0 ? $"{row.PerCore / (double)baseline.PerCore:P0}" : "-";
            Console.WriteLine($"    {row.Name,-20} {row.Rate / 1000,4}k {row.CpuPerTick,12:F2} {row.CpuPerTick / Parties,15:F2} {row.PerCore,11:N0} {ratio,9} {row.WallFit,9:N0}");
        }

        foreach (var secure in summary.Where(r => r.Name.EndsWith(" SRTP", StringComparison.Ordinal)))
        {
            var plain = summary.FirstOrDefault(r => r.Name == secure.Name[..^5]);
            if (plain.Name is null) continue;
            Console.WriteLine($"    SRTP on {plain.Name}: +{secure.CpuPerTick - plain.CpuPerTick:F2} µs per tick (medians of the same rounds), " +
                $"+{(secure.CpuPerTick - plain.CpuPerTick) / Parties:F2} µs per party frame (one unprotect and one protect)");
        }

        return 0;
    }

    /// <summary>
    /// (a) for every scenario one conference ticked back to back, in <paramref name="rounds"/> interleaved rounds of
    /// <paramref name="seconds"/>/<paramref name="rounds"/> each (the order rotating per round); the median round's
    /// mixing-thread CPU time per tick, and the mixer's rate.
    /// </summary>
    private static (double CpuPerTick, int Rate)[] PerFrame((string Name, AudioCodec[] Codecs, Func<int, IPacketStage>? Stage)[] scenarios, double seconds, int rounds)
    {
        var conferences = scenarios.Select(s => new SimulatedConference(s.Codecs, s.Stage)).ToArray();
        foreach (var conference in conferences)
        {
            for (var i = 0; i < 10_000; i++)
            {
                conference.RunTick(); // JIT tiering warm-up
            }
        }

        var cpu = scenarios.Select(_ => new List<double>()).ToArray();
        var wall = scenarios.Select(_ => new List<double>()).ToArray();
        var ticks = new long[scenarios.Length];
        var alloc = new long[scenarios.Length];
        var perRound = seconds / rounds;
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < scenarios.Length; k++)
            {
                var n = (round + k) % scenarios.Length;
                var conference = conferences[n];
                long run = 0;
                var allocBefore = GC.GetAllocatedBytesForCurrentThread();
                var cpuBefore = ThreadCpuMicroseconds();
                var watch = Stopwatch.StartNew();
                while (watch.Elapsed.TotalSeconds < perRound)
                {
                    for (var i = 0; i < 500; i++)
                    {
                        conference.RunTick();
                    }

                    run += 500;
                }

                watch.Stop();
                cpu[n].Add((ThreadCpuMicroseconds() - cpuBefore) / run);
                wall[n].Add(watch.Elapsed.TotalMicroseconds / run);
                alloc[n] += GC.GetAllocatedBytesForCurrentThread() - allocBefore;
                ticks[n] += run;
            }
        }

        Console.WriteLine();
        Console.WriteLine($"(a) one three-party conference per scenario, ticks back to back, {rounds} interleaved rounds of {perRound:F2} s (median round; min–max)");
        Console.WriteLine($"    load average: {LoadAverage()}");
        Console.WriteLine($"    {"members",-20} {"ticks",10} {"CPU µs/tick",12} {"min–max",16} {"wall µs/tick",13} {"µs/party frame",15} {"bytes/tick",11} {"lost/late",10}");
        var result = new (double, int)[scenarios.Length];
        for (var n = 0; n < scenarios.Length; n++)
        {
            var median = Median(cpu[n]);
            Console.WriteLine($"    {scenarios[n].Name,-20} {ticks[n],10:N0} {median,12:F2} {$"{cpu[n].Min():F2}–{cpu[n].Max():F2}",16} {Median(wall[n]),13:F2} " +
                $"{median / Parties,15:F2} {alloc[n] / (double)ticks[n],11:F2} {$"{conferences[n].Lost}/{conferences[n].Late}",10}");
            result[n] = (median, conferences[n].Rate);
        }

        return result;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// (c) SRTP on a relayed packet: a relay neither decodes nor mixes, so this is all it adds per packet (one unprotect
    /// under the sender's key, one protect under the receiver's), for a G.711 packet (160 bytes of payload) and an Opus
    /// one (about 60), in interleaved rounds with the plain copy a relay does anyway.
    /// </summary>
    private static void SrtpPerPacket(double seconds, int rounds)
    {
        Console.WriteLine();
        Console.WriteLine($"(c) SRTP per relayed packet (unprotect + protect, AES_CM_128_HMAC_SHA1_80), {rounds} interleaved rounds (median; min–max)");
        (string Name, int Payload)[] sizes = [("G.711 (160 B)", 160), ("Opus (60 B)", 60)];
        var results = sizes.Select(_ => new List<double>()).ToArray();
        var phoneKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        var switchKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        var contexts = sizes.Select(_ => (Phone: phoneKey.CreateContext(), Receive: phoneKey.CreateContext(), Send: switchKey.CreateContext())).ToArray();
        var buffers = sizes.Select(size => new byte[RtpPacket.FixedHeaderSize + size.Payload + 16]).ToArray();
        var sequences = new ushort[sizes.Length];
        var allocated = new long[sizes.Length];
        var counted = new long[sizes.Length];
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < sizes.Length; k++)
            {
                var n = (round + k) % sizes.Length;
                var payload = new byte[sizes[n].Payload];
                var (phone, receive, send) = contexts[n];
                long packets = 0;
                double spent = 0;
                var allocBefore = GC.GetAllocatedBytesForCurrentThread();
                var watch = Stopwatch.StartNew();
                while (watch.Elapsed.TotalSeconds < seconds / rounds / 2)
                {
                    // The phone's protect is its own work: only the switch's unprotect and protect are timed.
                    new RtpPacket(0, sequences[n]++, 0, 0x1234, payload).TryWrite(buffers[n], out var length);
                    length = phone.ProtectRtp(buffers[n], length);
                    var begin = Stopwatch.GetTimestamp();
                    if (receive.UnprotectRtp(buffers[n].AsSpan(0, length), out var plain) != SrtpRejection.None || send.ProtectRtp(buffers[n], plain) < 0)
                    {
                        throw new InvalidOperationException("bench SRTP packet refused");
                    }

                    spent += Stopwatch.GetTimestamp() - begin;
                    packets++;
                }

                results[n].Add(spent * 1e6 / Stopwatch.Frequency / packets);
                allocated[n] += GC.GetAllocatedBytesForCurrentThread() - allocBefore;
                counted[n] += packets;
            }
        }

        for (var n = 0; n < sizes.Length; n++)
        {
            Console.WriteLine($"    {sizes[n].Name,-20} {Median(results[n]),8:F2} µs per packet ({results[n].Min():F2}–{results[n].Max():F2}), " +
                $"{allocated[n] / (double)counted[n]:F2} bytes allocated per packet (the phone's protect included)");
            contexts[n].Phone.Dispose();
            contexts[n].Receive.Dispose();
            contexts[n].Send.Dispose();
        }
    }

    private static (int PerCore, int WallFit) Capacity(AudioCodec[] codecs, Func<int, IPacketStage>? stage, int start, int ticksPerStep)
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
            var result = Step(codecs, stage, count, ticksPerStep);
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

    private static StepResult Step(AudioCodec[] codecs, Func<int, IPacketStage>? stage, int count, int ticks)
    {
        var conferences = new SimulatedConference[count];
        for (var i = 0; i < count; i++)
        {
            conferences[i] = new SimulatedConference(codecs, stage);
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

        public SimulatedConference(AudioCodec[] codecs, Func<int, IPacketStage>? stage)
        {
            // As Conference.Reconfigure: 16 kHz as soon as one member is wideband.
            _mixer.SampleRate = codecs.Any(AudioCodecs.IsWideband) ? 16000 : 8000;
            for (var i = 0; i < Parties; i++)
            {
                _parties[i] = new Party(_mixer.Join(), codecs[i], Tones[i], _mixer.SampleRate, stage?.Invoke(i));
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
            private readonly byte[] _outgoing = new byte[RtpPacket.FixedHeaderSize + AudioTranscoder.MaxPayloadBytes + SrtpStage.MaxOverhead];
            private readonly byte[] _datagram = new byte[RtpPacket.FixedHeaderSize + AudioTranscoder.MaxPayloadBytes + SrtpStage.MaxOverhead];
            private readonly IPacketStage? _stage;
            private readonly byte[][]? _wire;
            private int _wireAt;
            private readonly Upsampler _up = new();
            private readonly Downsampler _down = new();
            private readonly bool _convert;
            private readonly uint _step;
            private ushort _inSequence;
            private ushort _outSequence;
            private uint _outTimestamp;

            public Party(MixerParty mixerParty, AudioCodec codec, double tone, int mixerRate, IPacketStage? stage)
            {
                _stage = stage;
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

                if (stage is not null)
                {
                    // Every conference's member i hears the same phone stream: built (and protected by the phone) once.
                    _wire = WireStreams.GetOrAdd($"{stage.Name}|{codec}|{tone}", _ => stage.Incoming(PlainStream(_incoming)));
                }
            }

            // The stage's incoming streams, shared by all conferences of a run (what the phones sent).
            private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[][]> WireStreams = new();

            /// <summary>A phone's stream of <see cref="SrtpStage.StreamPackets"/> packets numbered from 0, cycling through the encoded second.</summary>
            private static byte[][] PlainStream(byte[][] frames)
            {
                var stream = new byte[SrtpStage.StreamPackets][];
                for (var i = 0; i < stream.Length; i++)
                {
                    stream[i] = (byte[])frames[i % Frames].Clone();
                    BinaryPrimitives.WriteUInt16BigEndian(stream[i].AsSpan(2), (ushort)i);
                    BinaryPrimitives.WriteUInt32BigEndian(stream[i].AsSpan(4), (uint)(i * 160));
                }

                return stream;
            }

            public Lock Gate { get; } = new();

            public JitterBuffer Jitter { get; } = new(2);

            public MixerParty MixerParty { get; }

            public void Receive()
            {
                ReadOnlySpan<byte> incoming;
                if (_stage is not null)
                {
                    // As the receive loop: the datagram lands in the endpoint's buffer, is checked and decrypted there.
                    if (_wireAt == _wire!.Length)
                    {
                        _wireAt = 0;
                        _stage.Restart();
                        lock (Gate)
                        {
                            Jitter.Reset();
                        }
                    }

                    var datagram = _wire[_wireAt++];
                    datagram.CopyTo(_datagram, 0);
                    incoming = _datagram.AsSpan(0, _stage.Inbound(_datagram, datagram.Length));
                }
                else
                {
                    var plain = _incoming[_inSequence % Frames];
                    BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(2), _inSequence++);
                    incoming = plain;
                }

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
                new RtpPacket(_payloadType, _outSequence++, _outTimestamp, 0x5678, _encoded.AsSpan(0, length)).TryWrite(_outgoing, out var rtpLength);
                _stage?.Outbound(_outgoing, rtpLength);
                _outTimestamp += _step;
            }
        }
    }

    /// <summary>
    /// SRTP as an endpoint does it (AES_CM_128_HMAC_SHA1_80, SDES keys): the phone's stream unprotected under the
    /// phone's key, what the switch sends protected under its own. Member i of every conference shares the phone
    /// key of index i, so the protected stream is built once; each member has its own contexts (ROC, replay window).
    /// </summary>
    private sealed class SrtpStage : IPacketStage
    {
        /// <summary>Bytes a protected packet is longer (the 80-bit tag).</summary>
        public const int MaxOverhead = 16;

        /// <summary>
        /// Packets of a phone's stream before it starts over (about 20 s; a few hundred kB per member index stays in
        /// cache as the plain rows' 50 packets do). Each start-over costs a new receive context: the bytes per tick of
        /// the SRTP rows are those (a few kB per 1024 ticks and member), not the per-packet work.
        /// </summary>
        public const int StreamPackets = 1024;

        private static readonly SdesCrypto[] PhoneKeys = [.. Enumerable.Range(0, Parties).Select(i => SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80))];

        private readonly SdesCrypto _phoneKey;
        private readonly SrtpContext _send = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80).CreateContext();
        private SrtpContext _receive;

        public SrtpStage(int party)
        {
            _phoneKey = PhoneKeys[party];
            _receive = _phoneKey.CreateContext();
        }

        public string Name => "SRTP AES_CM_128_HMAC_SHA1_80 party " + Array.IndexOf(PhoneKeys, _phoneKey).ToString(CultureInfo.InvariantCulture);

        public byte[][] Incoming(byte[][] plainStream)
        {
            using var phone = _phoneKey.CreateContext();
            var wire = new byte[plainStream.Length][];
            var buffer = new byte[RtpPacket.FixedHeaderSize + AudioTranscoder.MaxPayloadBytes + MaxOverhead];
            for (var i = 0; i < plainStream.Length; i++)
            {
                plainStream[i].CopyTo(buffer, 0);
                var length = phone.ProtectRtp(buffer, plainStream[i].Length);
                wire[i] = buffer.AsSpan(0, length).ToArray();
            }

            return wire;
        }

        public int Inbound(Span<byte> datagram, int length) =>
            _receive.UnprotectRtp(datagram[..length], out var plain) == SrtpRejection.None ? plain : throw new InvalidOperationException("bench SRTP packet refused");

        public int Outbound(Span<byte> datagram, int length)
        {
            var protectedLength = _send.ProtectRtp(datagram, length);
            return protectedLength > 0 ? protectedLength : throw new InvalidOperationException("bench SRTP protect failed");
        }

        public void Restart()
        {
            // The stream starts over at sequence 0 with the same key: to a receiver that is a replay, so a new context.
            _receive.Dispose();
            _receive = _phoneKey.CreateContext();
        }
    }
}
