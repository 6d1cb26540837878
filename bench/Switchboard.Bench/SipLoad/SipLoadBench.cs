using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Bench.SipLoad;

/// <summary>
/// SIP call load: sipp UAC → peer → sipp UAS on loopback, stepping the call rate up until calls fail. Prints, per
/// peer, the highest calls per second with 0 failed calls. The reference peer is Kamailio as a stateful proxy.
/// </summary>
internal static class SipLoadBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        double stepSeconds = Opt(args, "--step-seconds", 5.0);
        int[] rates = Opt(args, "--rates", "200,400,800,1200,1600,2000,2400,2800,3200").Split(',').Select(int.Parse).ToArray();
        var peers = Opt(args, "--peers", "kamailio").Split(',');
        var dir = Directory.CreateTempSubdirectory("sb-sipload-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "uac.xml"), SippTools.UacScenario);
            Console.WriteLine($"SIP load: sipp UAC -> peer -> sipp UAS, UDP on 127.0.0.1, 0 ms hold, {stepSeconds} s per step, {Environment.ProcessorCount} cores");
            var results = new Dictionary<string, int>();
            foreach (var peer in peers)
            {
                await using var target = peer switch
                {
                    "kamailio" => (IAsyncDisposable)await KamailioPeer.StartAsync(dir),
                    _ => throw new ArgumentException($"unknown peer '{peer}' (kamailio)"),
                };
                var proxyPort = ((KamailioPeer)target).Port;
                int best = 0;
                foreach (var rate in rates)
                {
                    var r = await StepAsync(dir, proxyPort, rate, stepSeconds);
                    Console.WriteLine($"  {peer,-12} rate {rate,5}/s: sent {r.Sent,6}, ok {r.Ok,6}, failed {r.Failed,4}, achieved {r.Achieved,7:F0}/s, retrans {r.Retrans}");
                    if (r.Failed == 0 && r.Ok == r.Sent && r.Achieved >= rate * 0.95) best = rate;
                    else break;
                }
                results[peer] = best;
                Console.WriteLine($"{peer}: highest rate with 0 failed calls: {best} calls/s");
            }
            if (results.TryGetValue("switchboard", out var sb) && results.TryGetValue("kamailio", out var kam) && kam > 0)
                Console.WriteLine($"ratio switchboard/kamailio: {100.0 * sb / kam:F0} %");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private readonly record struct Step(long Sent, long Ok, long Failed, double Achieved, long Retrans);

    private static async Task<Step> StepAsync(string dir, int peerPort, int rate, double seconds)
    {
        int uasPort = SippTools.FreeUdpPort();
        int uacPort = SippTools.FreeUdpPort();
        long calls = (long)(rate * seconds);
        var uasStats = Path.Combine(dir, $"uas-{rate}.csv");
        var uacStats = Path.Combine(dir, $"uac-{rate}.csv");
        var uas = SippTools.Start("sipp", ["-sn", "uas", "-i", "127.0.0.1", "-p", uasPort.ToString(CultureInfo.InvariantCulture), "-nostdin",
            "-buff_size", "4194304", "-pause_msg_ign", "-trace_stat", "-stf", uasStats, "-fd", "1"], dir);
        await Task.Delay(300);
        var sw = Stopwatch.StartNew();
        var uac = SippTools.Start("sipp", ["-sf", Path.Combine(dir, "uac.xml"), "-i", "127.0.0.1", "-p", uacPort.ToString(CultureInfo.InvariantCulture),
            "-rsa", $"127.0.0.1:{peerPort}", "-r", rate.ToString(CultureInfo.InvariantCulture), "-m", calls.ToString(CultureInfo.InvariantCulture),
            "-l", "20000", "-d", "0", "-nostdin", "-buff_size", "4194304", "-recv_timeout", "10000",
            "-trace_stat", "-stf", uacStats, "-fd", "1", $"127.0.0.1:{uasPort}"], dir);
        var exited = uac.WaitForExitAsync();
        if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(seconds * 3 + 30))) != exited) SippTools.Stop(uac);
        sw.Stop();
        SippTools.Stop(uas);
        var s = SippTools.LastStats(uacStats);
        long ok = SippTools.Long(s, "SuccessfulCall(C)");
        long failed = SippTools.Long(s, "FailedCall(C)");
        if (File.Exists(uasStats)) failed += SippTools.Long(SippTools.LastStats(uasStats), "FailedCall(C)");
        return new Step(SippTools.Long(s, "OutgoingCall(C)"), ok, failed, ok / Math.Max(0.001, sw.Elapsed.TotalSeconds - 0.0),
            SippTools.Long(s, "Retransmissions(C)"));
    }

    private static T Opt<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}

/// <summary>Kamailio as a stateful proxy on loopback, the reference peer of the SIP load bench.</summary>
internal sealed class KamailioPeer : IAsyncDisposable
{
    private readonly Process _process;

    private KamailioPeer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<KamailioPeer> StartAsync(string dir)
    {
        int port = SippTools.FreeUdpPort();
        var kdir = Directory.CreateDirectory(Path.Combine(dir, "kam")).FullName;
        var cfg = Path.Combine(kdir, "kamailio.cfg");
        File.WriteAllText(cfg, $$"""
            #!KAMAILIO
            debug=1
            log_stderror=yes
            children=2
            listen=udp:127.0.0.1:{{port}}
            auto_aliases=no
            mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
            loadmodule "kex.so"
            loadmodule "corex.so"
            loadmodule "tm.so"
            loadmodule "sl.so"
            loadmodule "rr.so"
            loadmodule "pv.so"
            loadmodule "maxfwd.so"
            loadmodule "textops.so"
            loadmodule "siputils.so"
            request_route {
              if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
              if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
              t_check_trans();
              if (has_totag()) { if (loose_route()) { t_relay(); exit; } }
              if (is_method("INVITE")) { record_route(); }
              if (!t_relay()) { sl_reply_error(); }
            }
            """);
        var p = SippTools.Start("kamailio", ["-f", cfg, "-DD", "-E", "-n", "2", "-m", "1024", "-M", "8", "-Y", kdir, "-P", Path.Combine(kdir, "kamailio.pid")], dir, Path.Combine(kdir, "kam.log"));
        await Task.Delay(1000);
        if (p.HasExited) throw new InvalidOperationException("kamailio did not start: " + File.ReadAllText(Path.Combine(kdir, "kam.log")));
        return new KamailioPeer(p, port);
    }

    public ValueTask DisposeAsync()
    {
        SippTools.Stop(_process);
        return ValueTask.CompletedTask;
    }
}
