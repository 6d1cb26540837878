using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Switchboard.EndToEnd.Phones;
using Switchboard.Switch.Trunks;

namespace Switchboard.EndToEnd;

/// <summary>
/// Kamailio as the provider: it takes Switchboard's registration (401), challenges its INVITEs (407) and delivers
/// them to the party registered under the dialled number, here a baresip phone.
/// </summary>
internal sealed class ProviderKamailio : IAsyncDisposable
{
    private readonly Process _process;

    private ProviderKamailio(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<ProviderKamailio> StartAsync(string dir)
    {
        int port;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)s.LocalEndPoint!).Port;
        }
        var cfg = Path.Combine(dir, "provider.cfg");
        await File.WriteAllTextAsync(cfg, $$"""
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
            request_route {
              xlog("L_INFO", "REQ $rm $ru from $si:$sp auth $au\n");
              if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
              if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
              if (has_totag()) { loose_route(); t_relay(); exit; }
              t_check_trans();
              if (is_method("REGISTER")) {
                if (!pv_www_authenticate("$td", "pw-$au", "0")) { www_challenge("$td", "0"); exit; }
                if (!save("location")) { sl_reply_error(); }
                exit;
              }
              if (is_method("INVITE")) {
                if (!pv_proxy_authenticate("$fd", "pw-$au", "0")) { proxy_challenge("$fd", "0"); exit; }
                consume_credentials();
                record_route();
              }
              if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
              t_relay();
            }
            """);
        var psi = new ProcessStartInfo("/usr/sbin/kamailio") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-f", cfg, "-DD", "-E", "-n", "1", "-Y", dir, "-P", Path.Combine(dir, "provider.pid") }) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var log = new StreamWriter(Path.Combine(dir, "provider.log")) { AutoFlush = true };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var needle = ":" + port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        for (int i = 0; i < 100 && !File.ReadLines("/proc/net/udp").Any(l => l.Contains(needle, StringComparison.Ordinal)); i++) await Task.Delay(50);
        return new ProviderKamailio(process, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>MakeCall over the IP interface to an outside number, through a trunk to Kamailio, answered by a real phone there.</summary>
public sealed class TrunkEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-trunk-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task MakeCall_in_crm_format_reaches_the_provider_phone_in_national_format_and_both_hear_each_other()
    {
        await using var provider = await ProviderKamailio.StartAsync(_dir);
        await using var server = await SwitchboardServer.StartAsync(_dir, new()
        {
            ["Sip:Trunks:0:Name"] = "provider",
            ["Sip:Trunks:0:Host"] = "127.0.0.1",
            ["Sip:Trunks:0:Port"] = provider.Port.ToString(CultureInfo.InvariantCulture),
            ["Sip:Trunks:0:Username"] = "trunkuser",
            ["Sip:Trunks:0:Password"] = "pw-trunkuser",
            ["Sip:Trunks:0:Register"] = "true",
            ["Sip:Trunks:0:NumberFormat"] = "National",
            ["Sip:Trunks:0:Dids:+4989555100"] = "100",
        });
        var registration = Assert.Single(server.Switch.TrunkRegistrations);
        for (int i = 0; i < 100 && registration.State != TrunkRegistrationState.Registered; i++) await Task.Delay(50);
        Assert.Equal(TrunkRegistrationState.Registered, registration.State);

        // The far end: a phone registered at the provider under the national number.
        await using var remote = await Baresip.StartAsync("far", _dir,
            $"<sip:0891234567@127.0.0.1:{provider.Port}>;auth_pass=pw-0891234567;answermode=manual;regint=600", "tone:1000");
        await using var alice = await Baresip.StartAsync("t100", _dir, server.Account("100", answerMode: "auto"), "tone:440");
        await server.WaitRegisteredAsync("100");
        // The far phone's registration at Kamailio shows in its SIP trace (its ctrl_tcp has no event for it here).
        for (int i = 0; i < 100 && !File.ReadAllText(Path.Combine(remote.Directory, "baresip.log")).Contains("SIP/2.0 200 OK", StringComparison.Ordinal); i++)
            await Task.Delay(50);
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        Assert.StartsWith("200 MakeCall 100 +49891234567", await client.CommandAsync("MakeCall 100 +49 (89) 123-4567"));
        var incoming = await remote.WaitEventAsync("CALL_INCOMING");
        Assert.Contains("089555100", (string?)incoming["peeruri"]);
        await remote.CommandAsync("accept");
        await remote.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await remote.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(440, remote.ReceivedFrequency());

        Assert.StartsWith("403 MakeCall 100 +49900123456: refused:", await client.CommandAsync("MakeCall 100 +49 900 123456"));
    }
}
