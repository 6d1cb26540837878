using System.Diagnostics;
using System.Globalization;
using Switchboard.Switch.Trunks;

namespace Switchboard.Switch.Tests;

/// <summary>A real Kamailio (Debian package) on a per-test port: in-memory location table, digest without a database.</summary>
internal sealed class Kamailio : IDisposable
{
    private readonly string _dir;
    private readonly int _port;
    private Process? _process;
    private StreamWriter? _log;

    public Kamailio(string dir, int port)
    {
        _dir = dir;
        _port = port;
        File.WriteAllText(Path.Combine(dir, "kamailio.cfg"), Config(port));
    }

    /// <summary>The recipe's registrar; the password of user U is "pw-U"; lifetimes down to 1 s are accepted.</summary>
    private static string Config(int port) => $$"""
        #!KAMAILIO
        debug=2
        log_stderror=yes
        children=1
        listen=udp:127.0.0.1:{{port}}
        alias="127.0.0.1:{{port}}"
        auto_aliases=no
        mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
        loadmodule "kex.so"
        loadmodule "corex.so"
        loadmodule "tm.so"
        loadmodule "tmx.so"
        loadmodule "sl.so"
        loadmodule "rr.so"
        loadmodule "pv.so"
        loadmodule "maxfwd.so"
        loadmodule "usrloc.so"
        loadmodule "registrar.so"
        loadmodule "textops.so"
        loadmodule "siputils.so"
        loadmodule "xlog.so"
        loadmodule "auth.so"
        modparam("usrloc", "db_mode", 0)
        modparam("registrar", "min_expires", 1)
        request_route {
          xlog("L_INFO", "REQ $rm $ru from $si:$sp\n");
          if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
          # In-dialog requests (ACK, BYE) of calls it delivered go on to their Request-URI.
          if (has_totag()) { t_relay(); exit; }
          if (is_method("REGISTER")) {
            if (!pv_www_authenticate("$td", "pw-$au", "0")) { www_challenge("$td", "0"); exit; }
            if (!save("location")) { sl_reply_error(); }
            exit;
          }
          # A call to the registered account goes to its binding, as a provider delivers calls to a DID.
          if (is_method("INVITE") && uri==myself) {
            if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
            t_relay();
            exit;
          }
          sl_send_reply("403", "Forbidden");
        }
        """;

    public string Log => Path.Combine(_dir, "kamailio.log");

    public void Start()
    {
        if (!File.Exists("/usr/sbin/kamailio")) throw new InvalidOperationException("kamailio is not installed (Debian package kamailio)");
        var psi = new ProcessStartInfo("/usr/sbin/kamailio") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-f", Path.Combine(_dir, "kamailio.cfg"), "-DD", "-E", "-n", "1", "-Y", _dir, "-P", Path.Combine(_dir, "kamailio.pid") })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        var log = _log = new StreamWriter(new FileStream(Log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        _process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        _process.OutputDataReceived += (_, e) => Write(log, e.Data);
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var needle = ":" + _port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        for (int i = 0; i < 100 && !File.ReadLines("/proc/net/udp").Any(l => l.Contains(needle, StringComparison.Ordinal)); i++) Thread.Sleep(50);
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            // A last line can arrive after Stop closed the log.
            if (log.BaseStream is { CanWrite: true }) log.WriteLine(line);
        }
    }

    public void Stop()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
            _process.WaitForExit();
        }
        _process.Dispose();
        _process = null;
        lock (_log!) _log.Dispose();
    }

    public void Dispose() => Stop();
}

/// <summary>Registration of a trunk at a real Kamailio: digest, refresh, and surviving a restart of the upstream.</summary>
public sealed class KamailioTrunkTests
{
    [Fact]
    public async Task The_registration_is_refreshed_and_comes_back_after_the_upstream_restarts()
    {
        int port = Sipp.FreePort();
        var dir = Directory.CreateTempSubdirectory("sb-kam-").FullName;
        using var kamailio = new Kamailio(dir, port);
        kamailio.Start();
        try
        {
            await using var f = new TrunkFixture(t =>
            {
                t.Password = "pw-trunkuser";
                t.Register = true;
                t.RegisterExpires = 2;
                t.RegisterRetrySeconds = 0.5;
                t.RegisterRetryMaxSeconds = 2;
            }, upstreamPort: port);
            var reg = Assert.Single(f.Switch.TrunkRegistrations);
            var states = new List<TrunkRegistrationState>();
            reg.StateChanged += s => { lock (states) states.Add(s); };

            await f.WaitForAsync(() => reg.Accepted >= 2, "the first registration and a refresh");
            Assert.Equal(TrunkRegistrationState.Registered, reg.State);
            Assert.Equal(TimeSpan.FromSeconds(2), reg.Granted);

            kamailio.Stop();
            await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the refresh to fail with the upstream down", 20);
            var acceptedWhileDown = reg.Accepted;
            kamailio.Start();
            await f.WaitForAsync(() => reg.Accepted > acceptedWhileDown && reg.State == TrunkRegistrationState.Registered, "registration after the restart", 30);
            await f.WaitForAsync(() => reg.Accepted > acceptedWhileDown + 1, "a refresh after the restart");

            // The restarted Kamailio knows where the account is: a call to it arrives as the DID (in To) and rings 100.
            int phonePort = Sipp.FreePort();
            using var phone = Sipp.Start("builtin:uas", phonePort, null);
            await f.RegisterPhoneAsync("100", phonePort);
            using var caller = Sipp.Start("provider_call_in.xml", Sipp.FreePort(), $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
                "-s", "trunkuser", "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "talk_ms", "200");
            var (code, output) = await caller.ExitAsync();
            Assert.True(code == 0, "caller through Kamailio: " + output);
            Assert.Equal(0, (await phone.ExitAsync()).Code);
            using var reader = new StreamReader(new FileStream(kamailio.Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var log = await reader.ReadToEndAsync();
            Assert.Contains("REQ REGISTER sip:127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), log, StringComparison.Ordinal);
        }
        finally
        {
            kamailio.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_password_leaves_the_registration_failed_and_retrying()
    {
        int port = Sipp.FreePort();
        var dir = Directory.CreateTempSubdirectory("sb-kam-").FullName;
        using var kamailio = new Kamailio(dir, port);
        kamailio.Start();
        try
        {
            await using var f = new TrunkFixture(t =>
            {
                t.Password = "wrong";
                t.Register = true;
                t.RegisterRetrySeconds = 0.2;
            }, upstreamPort: port);
            var reg = Assert.Single(f.Switch.TrunkRegistrations);
            await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the registration to fail");
            Assert.StartsWith("401", reg.LastError, StringComparison.Ordinal);
            Assert.Equal(0, reg.Accepted);
            await f.WaitForAsync(() => reg.NextAttemptIn >= TimeSpan.FromSeconds(0.8), "the back-off to grow");
        }
        finally
        {
            kamailio.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }
}
