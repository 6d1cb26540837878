using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Bench.Relay;

/// <summary>
/// Anchored two-party calls on loopback: N calls, RTP both ways at 50 packets/s per stream, through the Switchboard
/// media engine (its own process) or rtpengine (userspace forwarding), rounds interleaved. Counts lost packets and
/// packets later than a threshold, and the peer's CPU time over wall time; then the CPU of 1,000 calls without RTP.
/// </summary>
internal static class RelayBench
{
    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;
    private const int PacketSize = 12 + 160;

    public static async Task<int> RunAsync(string[] args)
    {
        int[] steps = [500, 1000, 2000, 3000, 4000, 5000];
        var rounds = 3;
        string[] peers = ["switchboard", "rtpengine"];
        double warmup = 2, seconds = 8, lateMs = 20, idleSeconds = 10;
        var idleCalls = 1000;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--calls": steps = [.. value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))]; break;
                case "--rounds": rounds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--peers": peers = value.Split(','); break;
                case "--warmup": warmup = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--late-ms": lateMs = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--idle-calls": idleCalls = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--idle-seconds": idleSeconds = double.Parse(value, CultureInfo.InvariantCulture); break;
            }
        }

        if (peers.Contains("rtpengine") && !File.Exists("/usr/bin/rtpengine"))
        {
            Console.WriteLine("rtpengine not installed (apt-get install rtpengine-daemon): measuring the switch alone");
            peers = [.. peers.Where(p => p != "rtpengine")];
        }

        Console.WriteLine($"Relay benchmark: {Environment.ProcessorCount} cores, G.711 20 ms, 50 packets/s per stream, two streams per call; late = more than {lateMs} ms through the relay");
        Console.WriteLine($"rounds interleaved per step: {string.Join(", ", Enumerable.Repeat(string.Join(", ", peers), rounds))}; {warmup} s warm-up, {seconds} s measured");
        Console.WriteLine();
        Console.WriteLine("| calls | peer | round | packets sent | lost | late | p50 ms | p99 ms | max ms | peer CPU % | CPU per call (% of a core) | CPU µs per relayed packet | bench CPU % | load avg |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var summary = new List<(int Calls, string Peer, List<RunResult> Runs)>();
        foreach (var calls in steps)
        {
            var perPeer = peers.ToDictionary(p => p, _ => new List<RunResult>());
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var peer in peers)
                {
                    // The machine is shared: the 1-minute load average says how much else wanted the two cores meanwhile.
                    var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                    RunResult result;
                    try
                    {
                        result = await RunOnceAsync(peer, calls, warmup, seconds, lateMs).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or SocketException or IOException)
                    {
                        // rtpengine needs four descriptors a call; past the limit it refuses, which is a result too.
                        Console.WriteLine($"| {calls} | {peer} | {round} | could not run: {ex.Message.ReplaceLineEndings(" ")} |");
                        continue;
                    }

                    perPeer[peer].Add(result);
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {calls} | {peer} | {round} | {result.Sent} | {result.Lost} | {result.Late} | {result.P50:F2} | {result.P99:F2} | {result.Max:F1} | {result.PeerCpu:F1} | {result.PeerCpu / calls:F4} | {result.CpuPerPacket:F2} | {result.BenchCpu:F1} | {load} |"));
                }
            }

            foreach (var peer in peers)
            {
                summary.Add((calls, peer, perPeer[peer]));
            }
        }

        Console.WriteLine();
        Console.WriteLine("Medians over the rounds (clean = no lost and no late packet in any round):");
        Console.WriteLine();
        Console.WriteLine("| calls | peer | lost | late | p99 ms | peer CPU % | CPU µs per relayed packet | clean |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---|");
        foreach (var (calls, peer, runs) in summary)
        {
            if (runs.Count == 0)
            {
                Console.WriteLine($"| {calls} | {peer} | | | | | could not run |");
                continue;
            }

            var clean = runs.All(r => r.Lost == 0 && r.Late == 0);
            Console.WriteLine(FormattableString.Invariant(
                $"| {calls} | {peer} | {Median(runs.Select(r => (double)r.Lost)):F0} | {Median(runs.Select(r => (double)r.Late)):F0} | {Median(runs.Select(r => r.P99)):F2} | {Median(runs.Select(r => r.PeerCpu)):F1} | {Median(runs.Select(r => r.CpuPerPacket)):F2} | {(clean ? "yes" : "no")} |"));
        }

        if (peers.Length == 2)
        {
            Console.WriteLine();
            foreach (var group in summary.GroupBy(s => s.Calls))
            {
                var cpu = group.Select(g => Median(g.Runs.Select(r => r.PeerCpu))).ToArray();
                if (cpu.Any(c => c == 0)) continue;
                Console.WriteLine(FormattableString.Invariant($"{group.Key} calls: CPU {group.First().Peer} / {group.Last().Peer} = {cpu[0] / cpu[1]:F2}"));
            }
        }

        foreach (var peer in peers)
        {
            var best = summary.Where(s => s.Peer == peer && s.Runs.Count > 0 && s.Runs.All(r => r.Lost == 0 && r.Late == 0)).Select(s => s.Calls).DefaultIfEmpty(0).Max();
            Console.WriteLine($"most calls carried with no lost or late packet, {peer}: {best}");
        }

        Console.WriteLine();
        Console.WriteLine($"{idleCalls} anchored calls, no RTP, CPU over {idleSeconds} s (medians of {rounds} rounds):");
        var idlePeers = new List<string> { "switchboard-mixer" };
        idlePeers.AddRange(peers);
        var idle = idlePeers.ToDictionary(p => p, _ => new List<double>());
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var peer in idlePeers)
            {
                idle[peer].Add(await IdleOnceAsync(peer, idleCalls, idleSeconds).ConfigureAwait(false));
            }
        }

        foreach (var peer in idlePeers)
        {
            var label = peer == "switchboard-mixer" ? "switchboard, mixer path (every anchored call before the relay)" : peer;
            Console.WriteLine(FormattableString.Invariant($"    {label,-66} {Median(idle[peer]):F2} % CPU  (rounds: {string.Join(", ", idle[peer].Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))})"));
        }

        return 0;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return 0;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task<RunResult> RunOnceAsync(string peer, int calls, double warmup, double seconds, double lateMs)
    {
        using var generator = new Generator(calls);
        await using var server = await Peer.StartAsync(peer, calls, generator.Ports).ConfigureAwait(false);
        return generator.Run(server.TargetsA, server.TargetsB, warmup, seconds, lateMs, server.CpuTime);
    }

    private static async Task<double> IdleOnceAsync(string peer, int calls, double seconds)
    {
        using var generator = new Generator(calls);
        await using var server = await Peer.StartAsync(peer, calls, generator.Ports).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        var cpu0 = server.CpuTime();
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        return (server.CpuTime() - cpu0).TotalSeconds / wall.Elapsed.TotalSeconds * 100;
    }

    internal sealed record RunResult(long Sent, long Lost, long Late, double P50, double P99, double Max, double PeerCpu, double BenchCpu, double Seconds)
    {
        /// <summary>The peer's CPU time per packet it delivered: the cost of the work itself, whatever else the machine runs.</summary>
        public double CpuPerPacket => Sent - Lost <= 0 ? 0 : PeerCpu / 100 * Seconds / (Sent - Lost) * 1e6;
    }

    /// <summary>The peer process: the switch's media engine (a child of this bench) or rtpengine.</summary>
    private sealed class Peer : IAsyncDisposable
    {
        private readonly Process _process;

        private Peer(Process process, SocketAddress[] a, SocketAddress[] b)
        {
            _process = process;
            TargetsA = a;
            TargetsB = b;
        }

        /// <summary>Per call, where phone A sends (the port that relays to B) and where phone B sends.</summary>
        public SocketAddress[] TargetsA { get; }

        public SocketAddress[] TargetsB { get; }

        public static async Task<Peer> StartAsync(string peer, int calls, int[] phones)
        {
            var a = new SocketAddress[calls];
            var b = new SocketAddress[calls];
            if (peer is "switchboard" or "switchboard-mixer")
            {
                var self = Environment.ProcessPath!;
                var prefix = Path.GetFileNameWithoutExtension(self) == "dotnet" ? $"{self} {typeof(RelayBench).Assembly.Location}" : self;
                var mix = peer == "switchboard-mixer" ? " --mix" : "";
                var process = Launch($"{prefix} relay-server --calls {calls} --phones 127.0.0.1:{phones[0]},127.0.0.1:{phones[1]}{mix}", redirectInput: true);
                for (var c = 0; c < calls; c++)
                {
                    var line = await process.StandardOutput.ReadLineAsync().ConfigureAwait(false)
                        ?? throw new InvalidOperationException("relay-server ended early: " + await process.StandardError.ReadToEndAsync().ConfigureAwait(false));
                    var ports = line.Split(' ');
                    a[c] = new IPEndPoint(IPAddress.Loopback, int.Parse(ports[0], CultureInfo.InvariantCulture)).Serialize();
                    b[c] = new IPEndPoint(IPAddress.Loopback, int.Parse(ports[1], CultureInfo.InvariantCulture)).Serialize();
                }

                var ready = await process.StandardOutput.ReadLineAsync().ConfigureAwait(false);
                if (ready is null || !ready.StartsWith("ready", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("relay-server did not get ready: " + ready);
                }

                return new Peer(process, a, b);
            }

            var control = FreeUdpPort();
            var cli = FreeUdpPort();
            var rtpengine = Launch(
                $"/usr/bin/rtpengine --foreground --log-stderr --log-level=3 --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:{control} --listen-cli=127.0.0.1:{cli} --port-min=20000 --port-max=59999 --timeout=600",
                redirectInput: false);
            try
            {
                using var ng = new RtpEngineNg(new IPEndPoint(IPAddress.Loopback, control));
                for (var attempt = 0; !ng.Ping(); attempt++)
                {
                    if (attempt > 20 || rtpengine.HasExited)
                    {
                        throw new InvalidOperationException("rtpengine did not answer ping: " + (rtpengine.HasExited ? await rtpengine.StandardError.ReadToEndAsync().ConfigureAwait(false) : ""));
                    }

                    await Task.Delay(100).ConfigureAwait(false);
                }

                for (var c = 0; c < calls; c++)
                {
                    var (forA, forB) = ng.Connect($"bench-{c}", phones[0], phones[1]);
                    a[c] = new IPEndPoint(IPAddress.Loopback, forA).Serialize();
                    b[c] = new IPEndPoint(IPAddress.Loopback, forB).Serialize();
                }

                return new Peer(rtpengine, a, b);
            }
            catch
            {
                // A peer that could not be set up must not outlive the round (nor hold its ports for the next one).
                if (!rtpengine.HasExited) rtpengine.Kill();
                await rtpengine.WaitForExitAsync().ConfigureAwait(false);
                rtpengine.Dispose();
                throw;
            }
        }

        /// <summary>User plus system CPU time of the peer process, from /proc.</summary>
        public TimeSpan CpuTime()
        {
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // Fields 14 and 15 of proc(5) (utime, stime) in clock ticks of 1/100 s; index 11 and 12 after the name.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromMilliseconds(ticks * 10);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (_process.StartInfo.RedirectStandardInput)
                {
                    _process.StandardInput.Close();
                }

                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    if (!_process.StartInfo.RedirectStandardInput)
                    {
                        _process.Kill();
                    }

                    await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                _process.Dispose();
            }
        }

        private static Process Launch(string arguments, bool redirectInput)
        {
            // Both peers inherit the bench's descriptor limit (the launch script raises it as far as the hard limit allows).
            var space = arguments.IndexOf(' ', StringComparison.Ordinal);
            var info = new ProcessStartInfo(arguments[..space], arguments[(space + 1)..])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = redirectInput,
                UseShellExecute = false,
            };
            return Process.Start(info) ?? throw new InvalidOperationException("could not start " + arguments);
        }

        private static int FreeUdpPort()
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
    }

    /// <summary>
    /// The phones: two UDP sockets (all A sides on one, all B sides on the other), a sender thread per socket that
    /// spreads its streams evenly over each 20 ms, a receiver thread per socket. Each payload carries the send time
    /// and the stream number, which both relays pass through untouched.
    /// </summary>
    private sealed class Generator : IDisposable
    {
        private readonly int _calls;
        private readonly Socket[] _sockets = new Socket[2];
        private readonly long[] _sent;
        private readonly long[] _received;
        private volatile bool _stop;

        public Generator(int calls)
        {
            _calls = calls;
            _sent = new long[2 * calls];
            _received = new long[2 * calls];
            for (var i = 0; i < 2; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

                // As root the buffers can exceed rmem_max: a full bench buffer must not pass for a loss in the peer.
                TrySetBuffer(socket, SoRcvBufForce, 64 << 20);
                TrySetBuffer(socket, SoSndBufForce, 16 << 20);
                socket.ReceiveTimeout = 100;
                _sockets[i] = socket;
            }
        }

        public int[] Ports => [.. _sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];

        public RunResult Run(SocketAddress[] targetsA, SocketAddress[] targetsB, double warmup, double seconds, double lateMs, Func<TimeSpan> peerCpu)
        {
            var frequency = Stopwatch.Frequency;
            var start = Stopwatch.GetTimestamp() + (frequency / 10);
            var measureFrom = start + (long)(warmup * frequency);
            var stopAt = measureFrom + (long)(seconds * frequency);
            var histograms = new long[2][];
            var late = new long[2];
            var lateTicks = (long)(lateMs / 1000 * frequency);
            var receivers = new Thread[2];
            var senders = new Thread[2];
            for (var side = 0; side < 2; side++)
            {
                var s = side;
                histograms[s] = new long[10_001];
                receivers[s] = new Thread(() => Receive(_sockets[s], histograms[s], ref late[s], lateTicks)) { IsBackground = true, Name = "bench-rx" };
                senders[s] = new Thread(() => Send(s, s == 0 ? targetsA : targetsB, start, measureFrom, stopAt)) { IsBackground = true, Name = "bench-tx" };
                receivers[s].Start();
                senders[s].Start();
            }

            SleepUntil(measureFrom);
            var peer0 = peerCpu();
            var self0 = Process.GetCurrentProcess().TotalProcessorTime;
            var wall0 = Stopwatch.GetTimestamp();
            SleepUntil(stopAt);
            var peer1 = peerCpu();
            var self1 = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.GetElapsedTime(wall0).TotalSeconds;
            foreach (var sender in senders) sender.Join();

            // What has not arrived half a second after the last send is lost.
            Thread.Sleep(500);
            _stop = true;
            foreach (var receiver in receivers) receiver.Join();

            long sent = 0, lost = 0;
            for (var i = 0; i < _sent.Length; i++)
            {
                sent += _sent[i];
                lost += Math.Max(0, _sent[i] - _received[i]);
            }

            var histogram = new long[histograms[0].Length];
            for (var i = 0; i < histogram.Length; i++) histogram[i] = histograms[0][i] + histograms[1][i];
            return new RunResult(sent, lost, late[0] + late[1], Percentile(histogram, 0.5), Percentile(histogram, 0.99), Percentile(histogram, 1.0),
                (peer1 - peer0).TotalSeconds / wall * 100, (self1 - self0).TotalSeconds / wall * 100, wall);
        }

        public void Dispose()
        {
            foreach (var socket in _sockets) socket.Dispose();
        }

        private static void TrySetBuffer(Socket socket, int option, int bytes)
        {
            try
            {
                socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(bytes));
            }
            catch (SocketException)
            {
                // Not root: the default buffer will do for small steps.
            }
        }

        private static void SleepUntil(long timestamp)
        {
            var left = timestamp - Stopwatch.GetTimestamp();
            if (left > 0) Thread.Sleep(TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency));
        }

        // Histogram buckets of 0.1 ms up to 1 s; the last bucket holds everything later.
        private static double Percentile(long[] histogram, double fraction)
        {
            var total = histogram.Sum();
            if (total == 0) return 0;
            var wanted = (long)Math.Ceiling(total * fraction);
            long seen = 0;
            for (var i = 0; i < histogram.Length; i++)
            {
                seen += histogram[i];
                if (seen >= wanted) return (i + 1) / 10.0;
            }

            return histogram.Length / 10.0;
        }

        private void Send(int side, SocketAddress[] targets, long start, long measureFrom, long stopAt)
        {
            var socket = _sockets[side];
            var packet = new byte[PacketSize];
            packet.AsSpan(12).Fill(0xFF);
            var period = Stopwatch.Frequency / 50;
            var streams = _calls;
            long number = 0;
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= stopAt) return;
                while (true)
                {
                    var tick = number / streams;
                    var index = (int)(number % streams);
                    var due = start + (tick * period) + (index * period / streams);
                    if (due > now || due >= stopAt) break;
                    var stream = (2 * index) + side;
                    packet[0] = 0x80;
                    packet[1] = 0;
                    BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)tick);
                    BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), (uint)(tick * 160));
                    BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), (uint)stream + 1);
                    var measured = due >= measureFrom;
                    BinaryPrimitives.WriteInt64LittleEndian(packet.AsSpan(12), Stopwatch.GetTimestamp());
                    BinaryPrimitives.WriteInt32LittleEndian(packet.AsSpan(20), stream);
                    packet[24] = measured ? (byte)1 : (byte)0;
                    try
                    {
                        socket.SendTo(packet, SocketFlags.None, targets[index]);
                        if (measured) _sent[stream]++;
                    }
                    catch (SocketException)
                    {
                        // ICMP port unreachable from an earlier packet surfaces on a later send; the packet is lost.
                        if (measured) _sent[stream]++;
                    }

                    number++;
                }

                Thread.Sleep(1);
            }
        }

        private void Receive(Socket socket, long[] histogram, ref long late, long lateTicks)
        {
            var buffer = new byte[2048];
            var source = new SocketAddress(AddressFamily.InterNetwork);
            var toBuckets = 10_000.0 / Stopwatch.Frequency;
            while (!_stop)
            {
                int length;
                try
                {
                    length = socket.ReceiveFrom(buffer, SocketFlags.None, source);
                }
                catch (SocketException)
                {
                    continue;
                }

                var now = Stopwatch.GetTimestamp();
                if (length < 25 || buffer[24] != 1) continue;
                var stream = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(20));
                if ((uint)stream >= (uint)_received.Length) continue;
                var delay = now - BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(12));
                _received[stream]++;
                if (delay > lateTicks) late++;
                histogram[(int)Math.Clamp(delay * toBuckets, 0, histogram.Length - 1)]++;
            }
        }
    }
}
