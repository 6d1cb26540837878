using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Switchboard.Testing;

/// <summary>What a test's Kamailio does besides being a registrar.</summary>
public sealed record KamailioRole
{
    /// <summary>A registrar that delivers INVITEs for registered users (the Switch tests' upstream).</summary>
    public static KamailioRole Registrar { get; } = new();

    /// <summary>
    /// A provider: it also challenges INVITEs (407, as real SIP trunks do), stays in the path (Record-Route), and
    /// delivers calls to each number in <see cref="Deliver"/> to the account registered under it.
    /// </summary>
    public static KamailioRole Provider(params (string Number, string Account)[] deliver) => new() { ChallengeInvites = true, Deliver = deliver };

    /// <summary>
    /// A stateful proxy and nothing else: every request goes on to its Request-URI, INVITEs record-routed, no request
    /// logged, two children and 1 GiB of shared memory. The reference peer of the SIP load bench.
    /// </summary>
    public static KamailioRole StatefulProxy { get; } = new() { ProxyOnly = true, LogRequests = false, Children = 2, SharedMemoryMegabytes = 1024 };

    public bool ChallengeInvites { get; init; }

    /// <summary>Relays every request to its Request-URI instead of being a registrar.</summary>
    public bool ProxyOnly { get; init; }

    /// <summary>Logs each request (<c>REQ method uri from ip:port auth user</c>); off where the log would cost throughput.</summary>
    public bool LogRequests { get; init; } = true;

    /// <summary>Worker processes per listening socket.</summary>
    public int Children { get; init; } = 1;

    /// <summary>Shared memory in MiB, or null for Kamailio's default.</summary>
    public int? SharedMemoryMegabytes { get; init; }

    /// <summary>Called numbers (Request-URI user) that the provider hands to an account's binding; To stays the number.</summary>
    public IReadOnlyList<(string Number, string Account)> Deliver { get; init; } = [];
}

/// <summary>
/// A real Kamailio (Debian package) on a per-test port: in-memory location table, digest without a database (the
/// password of user U is "pw-U"), registration lifetimes down to 1 s accepted. Logs every request as
/// <c>REQ method uri from ip:port auth user</c>.
/// </summary>
public sealed class Kamailio : IDisposable
{
    private readonly string _dir;
    private readonly string _name;
    private Process? _process;
    private StreamWriter? _log;

    private readonly KamailioRole _role;

    public Kamailio(string dir, int port, KamailioRole? role = null, string name = "kamailio")
    {
        _dir = dir;
        _name = name;
        _role = role ?? KamailioRole.Registrar;
        Port = port;
        File.WriteAllText(Path.Combine(dir, name + ".cfg"), Config(port, _role));
    }

    /// <summary>Starts a Kamailio on a free loopback port.</summary>
    public static Kamailio Start(string dir, KamailioRole? role = null, string name = "kamailio")
    {
        var k = new Kamailio(dir, Ports.FreeUdp(), role, name);
        k.Start();
        return k;
    }

    public int Port { get; }

    public string Log => Path.Combine(_dir, _name + ".log");

    /// <summary>Everything Kamailio logged so far (it may still be writing).</summary>
    public string ReadLog()
    {
        using var reader = new StreamReader(new FileStream(Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd();
    }

    private static string Config(int port, KamailioRole role)
    {
        var invite = new StringBuilder();
        foreach (var (number, account) in role.Deliver)
            invite.Append(CultureInfo.InvariantCulture, $"  if ($rU == \"{number}\") {{ $rU = \"{account}\"; }}\n");
        if (role.ChallengeInvites)
        {
            invite.Append("""
                  if (is_method("INVITE")) {
                    if (!pv_proxy_authenticate("$fd", "pw-$au", "0")) { proxy_challenge("$fd", "0"); exit; }
                    consume_credentials();
                    record_route();
                  }

                """);
        }
        var routes = role.ProxyOnly
            ? """
              if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
              if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
              t_check_trans();
              if (has_totag()) { if (loose_route()) { t_relay(); exit; } }
              if (is_method("INVITE")) { record_route(); }
              if (!t_relay()) { sl_reply_error(); }

            """
            : $$"""
              if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
              if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
              # In-dialog requests (ACK, BYE) of calls it delivered go on to their Request-URI.
              if (has_totag()) { loose_route(); t_relay(); exit; }
              t_check_trans();
              if (is_method("REGISTER")) {
                if (!pv_www_authenticate("$td", "pw-$au", "0")) { www_challenge("$td", "0"); exit; }
                if (!save("location")) { sl_reply_error(); }
                exit;
              }
              if (!is_method("INVITE")) { sl_send_reply("403", "Forbidden"); exit; }
            {{invite}}  # A call to a registered account goes to its binding, as a provider delivers calls to a DID.
              if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
              t_relay();

            """;
        var log = role.LogRequests ? "  xlog(\"L_INFO\", \"REQ $rm $ru from $si:$sp auth $au\\n\");\n" : "";
        return $$"""
            #!KAMAILIO
            debug={{(role.LogRequests ? 2 : 1)}}
            log_stderror=yes
            children={{role.Children}}
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
            {{log}}{{routes}}
            }
            """;
    }

    public void Start()
    {
        if (!File.Exists("/usr/sbin/kamailio")) throw new InvalidOperationException("kamailio is not installed (Debian package kamailio)");
        var psi = new ProcessStartInfo("/usr/sbin/kamailio") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-f", Path.Combine(_dir, _name + ".cfg"), "-DD", "-E", "-n", _role.Children.ToString(CultureInfo.InvariantCulture), "-Y", _dir, "-P", Path.Combine(_dir, _name + ".pid") })
            psi.ArgumentList.Add(a);
        if (_role.SharedMemoryMegabytes is { } megabytes)
        {
            psi.ArgumentList.Add("-m");
            psi.ArgumentList.Add(megabytes.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add("-M");
            psi.ArgumentList.Add("8");
        }
        _process = Process.Start(psi)!;
        var log = _log = new StreamWriter(new FileStream(Log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        _process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        _process.OutputDataReceived += (_, e) => Write(log, e.Data);
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        Ports.WaitUntilUdpBound(Port);
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
