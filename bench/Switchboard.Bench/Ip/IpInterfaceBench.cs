using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench.Ip;

/// <summary>
/// Load on the IP interface from real TCP clients on loopback: commands per second and reply latency for pipelined
/// TCP commands, one-at-a-time TCP commands and HTTP GET commands. Without --port it starts the switchboard
/// executable (simulated phones) in a scratch directory and measures that.
/// </summary>
internal static class IpInterfaceBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int port = Opt(args, "--port", 0);
        double seconds = Opt(args, "--seconds", 5);
        Process? server = null;
        string? dir = null;
        if (port == 0)
        {
            dir = Directory.CreateTempSubdirectory("sb-bench-").FullName;
            (server, port) = await StartServerAsync(dir);
        }
        try
        {
            Console.WriteLine($"Switchboard IP interface benchmark: 127.0.0.1:{port}, {Environment.ProcessorCount} cores, {seconds} s per case, command 'Status 100'");
            Console.WriteLine($"{"case",-44} {"clients",7} {"cmds/s",10} {"p50 ms",8} {"p99 ms",8}");
            foreach (var clients in new[] { 1, 50 })
                Print($"TCP pipelined (depth 64)", clients, await RunTcpAsync(port, clients, 64, seconds));
            foreach (var clients in new[] { 1, 50 })
                Print($"TCP request/response", clients, await RunTcpAsync(port, clients, 1, seconds));
            Print("TCP paced, 10,000 cmds/s in total", 50, await RunPacedAsync(port, 50, 10_000, seconds));
            foreach (var clients in new[] { 1, 50 })
                Print($"HTTP GET keep-alive (204)", clients, await RunHttpAsync(port, clients, seconds));
            return 0;
        }
        finally
        {
            if (server is not null)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            if (dir is not null) Directory.Delete(dir, recursive: true);
        }
    }

    private static void Print(string name, int clients, Result r) =>
        Console.WriteLine($"{name,-44} {clients,7} {r.PerSecond,10:N0} {r.P50,8:F3} {r.P99,8:F3}");

    private readonly record struct Result(double PerSecond, double P50, double P99);

    private static async Task<Result> RunTcpAsync(int port, int clients, int depth, double seconds)
    {
        var line = "Status 100\r\n"u8.ToArray();
        var batch = Enumerable.Repeat(line, depth).SelectMany(b => b).ToArray();
        return await RunClientsAsync(clients, seconds, async (latencies, stop) =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port);
            var buffer = new byte[64 * 1024];
            long count = 0;
            while (!stop.IsCancellationRequested)
            {
                long t0 = Stopwatch.GetTimestamp();
                await socket.SendAsync(batch, SocketFlags.None);
                int lines = 0;
                while (lines < depth)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (n == 0) throw new IOException("server closed the connection");
                    long t = Stopwatch.GetTimestamp();
                    for (int i = 0; i < n; i++)
                    {
                        if (buffer[i] != (byte)'\n') continue;
                        lines++;
                        latencies.Add(t - t0);
                    }
                }
                count += depth;
            }
            return count;
        });
    }

    /// <summary>
    /// Open-loop latency: each client sends one command every clients/rate seconds and waits for its reply, so the
    /// server sees a steady load below saturation (closed-loop figures above measure the queue, not the server).
    /// </summary>
    private static async Task<Result> RunPacedAsync(int port, int clients, int totalRate, double seconds)
    {
        var line = "Status 100\r\n"u8.ToArray();
        var interval = TimeSpan.FromSeconds((double)clients / totalRate);
        int started = 0;
        return await RunClientsAsync(clients, seconds, async (latencies, stop) =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port);
            // Spread the clients over one interval, so the load is steady rather than 50 commands at once per tick.
            int index = Interlocked.Increment(ref started) % clients;
            Thread.Sleep(TimeSpan.FromTicks(interval.Ticks * index / clients));
            var buffer = new byte[4096];
            using var timer = new PeriodicTimer(interval);
            long count = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await socket.SendAsync(line, SocketFlags.None);
                    int got = 0;
                    do
                    {
                        int n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
                        if (n == 0) throw new IOException("server closed the connection");
                        got += n;
                    }
                    while (buffer[got - 1] != (byte)'\n');
                    latencies.Add(Stopwatch.GetTimestamp() - t0);
                    count++;
                }
            }
            catch (OperationCanceledException)
            {
            }
            return count;
        });
    }

    private static async Task<Result> RunHttpAsync(int port, int clients, double seconds)
    {
        var request = Encoding.ASCII.GetBytes("GET /Status%20100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        return await RunClientsAsync(clients, seconds, async (latencies, stop) =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port);
            var buffer = new byte[16 * 1024];
            long count = 0;
            while (!stop.IsCancellationRequested)
            {
                long t0 = Stopwatch.GetTimestamp();
                await socket.SendAsync(request, SocketFlags.None);
                int got = 0;
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
                    if (n == 0) throw new IOException("server closed the connection");
                    got += n;
                    // 204 responses have no body: the head's end is the response's end.
                    if (buffer.AsSpan(0, got).IndexOf("\r\n\r\n"u8) >= 0) break;
                }
                if (!buffer.AsSpan(0, 12).SequenceEqual("HTTP/1.1 204"u8)) throw new IOException("unexpected response: " + Encoding.ASCII.GetString(buffer, 0, Math.Min(got, 80)));
                latencies.Add(Stopwatch.GetTimestamp() - t0);
                count++;
            }
            return count;
        });
    }

    private static async Task<Result> RunClientsAsync(int clients, double seconds, Func<List<long>, CancellationToken, Task<long>> client)
    {
        // Warm-up, so JIT and connection set-up are not measured.
        using (var warm = new CancellationTokenSource(TimeSpan.FromSeconds(0.5)))
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(() => client([], warm.Token))));

        var lists = Enumerable.Range(0, clients).Select(_ => new List<long>(1 << 16)).ToArray();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var sw = Stopwatch.StartNew();
        var counts = await Task.WhenAll(lists.Select(l => Task.Run(() => client(l, stop.Token))));
        sw.Stop();
        var all = lists.SelectMany(l => l).ToArray();
        Array.Sort(all);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        return new Result(counts.Sum() / sw.Elapsed.TotalSeconds,
            all.Length == 0 ? 0 : Ms(all[all.Length / 2]),
            all.Length == 0 ? 0 : Ms(all[(int)(all.Length * 0.99)]));
    }

    private static async Task<(Process, int)> StartServerAsync(string dir)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "switchboard.dll");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "--demo", "--IpInterface:Port=0", "--IpInterface:ListenAddress=127.0.0.1", "--CtiServer:Port=0",
                     "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Switchboard.Interface.IpInterfaceServer=Information" })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var port = new TaskCompletionSource<int>();
        p.OutputDataReceived += (_, e) =>
        {
            const string marker = "listening on 127.0.0.1:";
            int i = e.Data?.IndexOf(marker, StringComparison.Ordinal) ?? -1;
            if (i >= 0) port.TrySetResult(int.Parse(new string(e.Data![(i + marker.Length)..].TakeWhile(char.IsAsciiDigit).ToArray()), System.Globalization.CultureInfo.InvariantCulture));
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return (p, await port.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static T Opt<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }
}
