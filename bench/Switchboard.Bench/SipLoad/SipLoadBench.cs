using System.Diagnostics;
using System.Globalization;
using Switchboard.Testing;

namespace Switchboard.Bench.SipLoad;

/// <summary>
/// SIP call load: sipp UAC → peer → sipp UAS on loopback, stepping the call rate up until calls fail, then (for the
/// switch) holding many calls at once to measure memory per call. The reference peer is Kamailio as a stateful proxy;
/// Switchboard is a B2BUA that also authenticates every call (INVITE, 407, INVITE with credentials).
/// </summary>
internal static class SipLoadBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        double stepSeconds = Opt(args, "--step-seconds", 5.0);
        int[] rates = Opt(args, "--rates", "100,200,400,600,800,1000,1200,1600,2000,2400,2800").Split(',').Select(int.Parse).ToArray();
        var peers = Opt(args, "--peers", "switchboard,kamailio").Split(',');
        int hold = Opt(args, "--hold-calls", 10_000);
        int rounds = Math.Max(1, Opt(args, "--rounds", 3));
        // Another build's switchboard.dll (e.g. the previous main) as peer "baseline", interleaved with the others,
        // so a regression is measured against the same machine drift.
        var baseline = Opt(args, "--baseline-dll", "");
        var dir = Directory.CreateTempSubdirectory("sb-sipload-").FullName;
        try
        {
            Console.WriteLine($"SIP load: sipp UAC -> peer -> sipp UAS, UDP on 127.0.0.1, 0 ms hold, {stepSeconds} s per step, {Environment.ProcessorCount} cores, " +
                $"{rounds} rounds with the peers interleaved ({string.Join(", ", peers)}, {string.Join(", ", peers)}, ...) so drift in the machine's load hits both alike");
            var results = peers.ToDictionary(p => p, _ => new List<int>());
            var ratios = new List<double>();
            var baselineRatios = new List<double>();
            for (int round = 1; round <= rounds; round++)
            {
                foreach (var name in peers)
                {
                    await using IPeer peer = name switch
                    {
                        "kamailio" => await KamailioPeer.StartAsync(dir),
                        "switchboard" => await SwitchboardPeer.StartAsync(dir),
                        "baseline" when baseline.Length > 0 => await SwitchboardPeer.StartAsync(dir, baseline, "baseline"),
                        _ => throw new ArgumentException($"unknown peer '{name}' (switchboard, kamailio, baseline with --baseline-dll)"),
                    };
                    int best = 0;
                    foreach (var rate in rates)
                    {
                        var r = await StepAsync(dir, peer, rate, stepSeconds, holdMs: 0, calls: (long)(rate * stepSeconds));
                        Console.WriteLine($"  round {round} {name,-12} rate {rate,5}/s: sent {r.Sent,6}, ok {r.Ok,6}, failed {r.Failed,4}, achieved {r.Achieved,7:F0}/s, retrans {r.Retrans}");
                        if (r.Failed == 0 && r.Ok == r.Sent && r.Achieved >= rate * 0.9) best = rate;
                        else break;
                    }
                    results[name].Add(best);
                    Console.WriteLine($"round {round} {name}: highest rate with 0 failed calls: {best} calls/s");
                    // Memory per held call once, in the first round: it does not depend on the interleaving.
                    if (round == 1 && peer is SwitchboardPeer sb && hold > 0) await HoldAsync(dir, sb, hold);
                }
                if (results.TryGetValue("switchboard", out var sr) && results.TryGetValue("kamailio", out var kr) && kr[^1] > 0)
                    ratios.Add(sr[^1] / (double)kr[^1]);
                if (results.TryGetValue("switchboard", out var sn) && results.TryGetValue("baseline", out var bn) && bn[^1] > 0)
                    baselineRatios.Add(sn[^1] / (double)bn[^1]);
            }
            foreach (var (name, list) in results)
                Console.WriteLine($"{name}: median {Median(list.Select(x => (double)x)):F0} calls/s over {list.Count} rounds ({string.Join(", ", list)})");
            if (ratios.Count > 0)
                Console.WriteLine($"ratio switchboard/kamailio: median {100 * Median(ratios):F0} % over {ratios.Count} rounds ({string.Join(", ", ratios.Select(r => $"{100 * r:F0} %"))}; target >= 50 %)");
            if (baselineRatios.Count > 0)
                Console.WriteLine($"ratio switchboard/baseline: median {100 * Median(baselineRatios):F0} % over {baselineRatios.Count} rounds ({string.Join(", ", baselineRatios.Select(r => $"{100 * r:F0} %"))})");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return 0;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Holds <paramref name="calls"/> calls up at once and reports the switch's memory per call.</summary>
    private static async Task HoldAsync(string dir, SwitchboardPeer sb, int calls)
    {
        GC.Collect();
        await Task.Delay(2000);
        long baseline = sb.RssBytes();
        int rate = 500;
        int holdMs = (int)(calls / (double)rate * 1000) + 15_000;
        var run = StepAsync(dir, sb, rate, calls / (double)rate, holdMs, calls);
        long peak = 0;
        int peakCalls = 0;
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(1000));
            long rss = sb.RssBytes();
            int active = sb.ActiveCalls();
            if (active >= peakCalls)
            {
                peakCalls = active;
                peak = Math.Max(peak, rss);
            }
        }
        var r = await run;
        double perCall = peakCalls > 0 ? (peak - baseline) / (double)peakCalls : 0;
        Console.WriteLine($"switchboard: held {peakCalls} concurrent calls (sent {r.Sent}, ok {r.Ok}, failed {r.Failed}); RSS {baseline / 1048576.0:F0} MiB idle, {peak / 1048576.0:F0} MiB at peak, {perCall / 1024:F1} KiB per active call");
    }

    private readonly record struct Step(long Sent, long Ok, long Failed, double Achieved, long Retrans);

    private static async Task<Step> StepAsync(string dir, IPeer peer, int rate, double seconds, int holdMs, long calls)
    {
        int uasPort = SippTools.FreeUdpPort();
        int uacPort = SippTools.FreeUdpPort();
        var uasStats = Path.Combine(dir, $"uas-{rate}-{uasPort}.csv");
        var uacStats = Path.Combine(dir, $"uac-{rate}-{uacPort}.csv");
        var uas = SippTools.Start("sipp", ["-sn", "uas", "-i", "127.0.0.1", "-p", P(uasPort), "-nostdin",
            "-buff_size", "4194304", "-pause_msg_ign", "-trace_stat", "-stf", uasStats, "-fd", "1"], dir);
        try
        {
            await Task.Delay(300);
            await peer.PrepareAsync(uasPort);
            var sw = Stopwatch.StartNew();
            // sipp wants the remote host last.
            var uacArgs = peer.UacArgs(dir, uasPort).ToList();
            var remote = uacArgs[^1];
            uacArgs.RemoveAt(uacArgs.Count - 1);
            var uac = SippTools.Start("sipp", [.. uacArgs, "-i", "127.0.0.1", "-p", P(uacPort),
                "-r", P(rate), "-m", calls.ToString(CultureInfo.InvariantCulture), "-l", "30000", "-d", P(holdMs), "-nostdin",
                "-buff_size", "4194304", "-recv_timeout", "20000", "-trace_stat", "-stf", uacStats, "-fd", "1", remote], dir, Path.Combine(dir, $"uac-{uacPort}.log"));
            var exited = uac.WaitForExitAsync();
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(seconds * 3 + holdMs / 1000.0 + 40))) != exited) SippTools.Stop(uac);
            sw.Stop();
            if (!File.Exists(uacStats)) throw new InvalidOperationException("sipp UAC did not run: " + File.ReadAllText(Path.Combine(dir, $"uac-{uacPort}.log")));
            var s = SippTools.LastStats(uacStats);
            long ok = SippTools.Long(s, "SuccessfulCall(C)");
            long failed = SippTools.Long(s, "FailedCall(C)");
            if (File.Exists(uasStats)) failed += SippTools.Long(SippTools.LastStats(uasStats), "FailedCall(C)");
            return new Step(SippTools.Long(s, "OutgoingCall(C)"), ok, failed, ok / Math.Max(0.001, sw.Elapsed.TotalSeconds - holdMs / 1000.0),
                SippTools.Long(s, "Retransmissions(C)"));
        }
        finally
        {
            SippTools.Stop(uas);
        }
    }

    internal static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static T Opt<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}

/// <summary>A SIP peer under load: where the UAC sends, and what must happen before a step.</summary>
internal interface IPeer : IAsyncDisposable
{
    /// <summary>sipp arguments for the UAC (scenario, target, credentials).</summary>
    IEnumerable<string> UacArgs(string dir, int uasPort);

    /// <summary>Makes the UAS at <paramref name="uasPort"/> reachable through the peer.</summary>
    Task PrepareAsync(int uasPort);
}

/// <summary>Kamailio as a stateful proxy on loopback (the test suite's Kamailio in its stateful-proxy role), the reference peer of the SIP load bench.</summary>
internal sealed class KamailioPeer : IPeer
{
    private readonly Kamailio _kamailio;

    private KamailioPeer(Kamailio kamailio) => _kamailio = kamailio;

    public static Task<KamailioPeer> StartAsync(string dir)
    {
        var kdir = Directory.CreateDirectory(Path.Combine(dir, "kam")).FullName;
        File.WriteAllText(Path.Combine(dir, "uac.xml"), SippTools.UacScenario);
        return Task.FromResult(new KamailioPeer(Kamailio.Start(kdir, KamailioRole.StatefulProxy)));
    }

    public IEnumerable<string> UacArgs(string dir, int uasPort) =>
        ["-sf", Path.Combine(dir, "uac.xml"), "-rsa", $"127.0.0.1:{SipLoadBench.P(_kamailio.Port)}", $"127.0.0.1:{SipLoadBench.P(uasPort)}"];

    public Task PrepareAsync(int uasPort) => Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        _kamailio.Stop();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The switchboard executable with the built-in SIP switch; sipp UAS registers as 101, the UAC calls as 100.</summary>
internal sealed class SwitchboardPeer : IPeer
{
    private readonly Process _process;
    private readonly int _sipPort;
    private readonly int _commandPort;
    private readonly string _dir;
    private readonly string _password;

    private SwitchboardPeer(Process process, int sipPort, int commandPort, string dir, string password)
    {
        _process = process;
        _password = password;
        _sipPort = sipPort;
        _commandPort = commandPort;
        _dir = dir;
    }

    public static async Task<SwitchboardPeer> StartAsync(string dir, string? dll = null, string name = "switchboard")
    {
        var work = Directory.CreateDirectory(Path.Combine(dir, name)).FullName;
        int sipPort = SippTools.FreeUdpPort(), commandPort = SippTools.FreeUdpPort();
        var password = Guid.NewGuid().ToString("N")[..16];
        dll ??= Path.Combine(AppContext.BaseDirectory, "switchboard.dll");
        var p = SippTools.Start("dotnet", [dll, "--PhoneSystem=sip", $"--Sip:Port={sipPort}", "--Sip:ListenAddress=127.0.0.1", "--Sip:TlsPort=0",
            $"--Sip:Passwords:100={password}", $"--Sip:Passwords:101={password}", "--Sip:AuthFreeFailures=1000000",
            "--Sip:AuthRequestsPerSecond=0",
            "--Sip:KeepAliveInterval=00:00:00", // sipp's UAS would count keepalive OPTIONS as unexpected messages
            $"--IpInterface:Port={commandPort}", "--IpInterface:ListenAddress=127.0.0.1", "--CtiServer:Enabled=false",
            "--DialFiles:Enabled=false", "--Logging:LogLevel:Default=Warning"], work, Path.Combine(work, "switchboard.log"));
        File.WriteAllText(Path.Combine(dir, "uac_auth.xml"), SippTools.AuthUacScenario);
        File.WriteAllText(Path.Combine(dir, "register.xml"), SippTools.RegisterScenario);
        await Task.Delay(2500);
        if (p.HasExited) throw new InvalidOperationException("switchboard did not start: " + File.ReadAllText(Path.Combine(work, "switchboard.log")));
        return new SwitchboardPeer(p, sipPort, commandPort, dir, password);
    }

    public IEnumerable<string> UacArgs(string dir, int uasPort) =>
        ["-sf", Path.Combine(dir, "uac_auth.xml"), "-s", "101", "-au", "100", "-ap", _password,
            // The switch checks that the digest uri is the Request-URI; sipp's default is sip:host:port.
            "-auth_uri", $"101@127.0.0.1:{SipLoadBench.P(_sipPort)}", $"127.0.0.1:{SipLoadBench.P(_sipPort)}"];

    public async Task PrepareAsync(int uasPort)
    {
        var reg = File.ReadAllText(Path.Combine(_dir, "register.xml")).Replace("[contact_port]", SipLoadBench.P(uasPort), StringComparison.Ordinal);
        var file = Path.Combine(_dir, $"register-{uasPort}.xml");
        File.WriteAllText(file, reg);
        var r = SippTools.Start("sipp", ["-sf", file, "-s", "101", "-au", "101", "-ap", _password, "-i", "127.0.0.1", "-p", SipLoadBench.P(SippTools.FreeUdpPort()),
            "-m", "1", "-nostdin", "-timeout", "10s", $"127.0.0.1:{SipLoadBench.P(_sipPort)}"], _dir);
        await r.WaitForExitAsync();
        if (r.ExitCode != 0) throw new InvalidOperationException("registering the sipp UAS at the switch failed");
    }

    /// <summary>Resident memory of the switch process.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>Calls up right now, from the switch's Status of the two devices (each call holds one connection at 101).</summary>
    public int ActiveCalls()
    {
        try
        {
            using var c = new System.Net.Sockets.TcpClient("127.0.0.1", _commandPort);
            var s = c.GetStream();
            s.Write("Status 101\r\n"u8);
            var reader = new StreamReader(s);
            var line = reader.ReadLine() ?? "";
            int i = line.IndexOf("calls:", StringComparison.Ordinal);
            return i < 0 ? 0 : line[(i + 6)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public ValueTask DisposeAsync()
    {
        SippTools.Stop(_process);
        return ValueTask.CompletedTask;
    }
}
