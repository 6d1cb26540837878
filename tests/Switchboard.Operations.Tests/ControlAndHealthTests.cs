using System.Net;
using System.Text.RegularExpressions;
using Switchboard.Testing;

namespace Switchboard.Operations.Tests;

public sealed class ControlAndHealthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ops-ctl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Ctl_commands_answer_against_a_running_server_over_an_owner_only_socket()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--Sip:Port=0");
        Assert.True(server.Started, server.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.ControlSocket));
        Assert.Single(Regex.Matches(server.Output, "Application started"));

        var (code, status, _) = await server.CtlAsync("status");
        Assert.Equal(0, code);
        Assert.Contains("phone system: sip", status);
        Assert.Contains("ready: yes", status);

        Assert.Equal(0, (await server.CtlAsync("sip-trace", "on", "101")).Code);
        var password = Regex.Match(server.Output, @"extension 101: password (\w+)").Groups[1].Value;
        Assert.Equal(200, await SipRegister.RegisterAsync(server.SipPort, "101", password));
        var (_, registrations, _) = await server.CtlAsync("registrations");
        Assert.Matches(@"(?m)^101  \d+s  ", registrations);
        Assert.Contains("SIP trace received from", server.Output);
        Assert.Contains("REGISTER sip:127.0.0.1", server.Output);

        Assert.Equal(0, (await server.CtlAsync("trunks")).Code);
        Assert.Contains("CALL  CALLING", (await server.CtlAsync("calls")).Out);
        var unknown = await server.CtlAsync("frobnicate");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("unknown-command", unknown.Err);
        var missing = await server.CtlAsync("passwords", "999");
        Assert.Contains("not-found", missing.Err);
        Assert.Contains("no changes", (await server.CtlAsync("reload")).Out);
        Assert.Equal(0, await server.StopAsync());
        Assert.False(File.Exists(server.ControlSocket));
    }

    [Fact]
    public async Task Ctl_reload_applies_changed_access_lists_live_and_keeps_the_old_ones_when_the_new_are_invalid()
    {
        var config = Path.Combine(_dir, "switchboard.json");
        await File.WriteAllTextAsync(config, """{ "Access": { "AllowedClients": [ "10.99.0.0/16" ] } }""");
        await using var server = await Switchboard.StartAsync(_dir, "--demo", "--config", config);
        Assert.True(server.Started, server.Output);
        Assert.StartsWith("403 client 127.0.0.1 is not in Access:AllowedClients", await server.CommandAsync("Status 100"));

        await File.WriteAllTextAsync(config, """{ "Access": { "AllowedClients": [ "127.0.0.0/8" ] } }""");
        var (code, reply, err) = await server.CtlAsync("reload");
        Assert.True(code == 0, err);
        Assert.Contains("Access: applied", reply);
        Assert.StartsWith("200 Status 100", await server.CommandAsync("Status 100"));

        // A typo in the file must not lock everyone out: the lists in force stay, and the reply says why.
        await File.WriteAllTextAsync(config, """{ "Access": { "AllowedClients": [ "127.0.0/8x" ] } }""");
        (code, reply, err) = await server.CtlAsync("reload");
        Assert.True(code == 0, err);
        Assert.Contains("Access: not applied", reply);
        Assert.StartsWith("200 Status 100", await server.CommandAsync("Status 100"));
        Assert.Contains("[1035]", server.Output);
    }

    [Fact]
    public async Task Ctl_web_password_gives_admin_a_new_password_and_the_old_one_stops_signing_in()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--demo");
        Assert.True(server.Started, server.Output);
        var old = Regex.Match(server.Output, @"Web account admin created with the password (\S+) ").Groups[1].Value;
        Assert.NotEmpty(old);
        Assert.Equal(HttpStatusCode.Redirect, await SignInAsync(server.WebPort, old));

        var (code, reply, err) = await server.CtlAsync("web-password", "--reset");
        Assert.True(code == 0, err);
        var fresh = Regex.Match(reply, @"^admin  (\S+)  \(new").Groups[1].Value;
        Assert.NotEmpty(fresh);
        Assert.NotEqual(old, fresh);
        Assert.Equal(HttpStatusCode.Unauthorized, await SignInAsync(server.WebPort, old));
        Assert.Equal(HttpStatusCode.Redirect, await SignInAsync(server.WebPort, fresh));
        // The reset is logged, the password itself never.
        Assert.Contains("[1050]", server.Output);
        Assert.DoesNotContain(fresh, server.Output);
    }

    private static async Task<HttpStatusCode> SignInAsync(int port, string password)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        };
        var csrf = Regex.Match(await http.GetStringAsync("/login"), "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
        using var r = await http.PostAsync("/login", new FormUrlEncodedContent([new("csrf", csrf), new("name", "admin"), new("password", password)]));
        return r.StatusCode;
    }

    [Fact]
    public async Task Metrics_list_the_series_and_a_call_moves_the_counters()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--demo");
        Assert.True(server.Started, server.Output);
        var (status, before) = await server.GetAsync("/metrics");
        Assert.Equal(200, status);
        Assert.Matches(@"switchboard_calls_active\{[^}]*\} 0", before);
        Assert.Contains("# TYPE switchboard_calls_active gauge", before);

        Assert.StartsWith("200 ", await server.CommandAsync("MakeCall 100 101"));
        Assert.StartsWith("404 ", await server.CommandAsync("Status 999"));
        var (_, after) = await server.GetAsync("/metrics");
        Assert.Matches(@"switchboard_calls_active\{[^}]*\} 1", after);
        Assert.Matches(@"switchboard_command_replies_total\{[^}]*code=""200"",front_end=""tcp""\} 1", after);
        Assert.Matches(@"switchboard_command_replies_total\{[^}]*code=""404"",front_end=""tcp""\} 1", after);
    }

    [Fact]
    public async Task Ready_is_503_while_the_asterisk_connector_is_disconnected_and_live_stays_200()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int amiPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var server = await Switchboard.StartAsync(_dir, "--PhoneSystem=asterisk", "--Asterisk:Host=127.0.0.1", $"--Asterisk:Port={amiPort}",
            "--Asterisk:Username=cti", "--Asterisk:Secret=x", "--Asterisk:Devices:0=100");
        Assert.True(server.Started, server.Output);
        Assert.Equal(200, (await server.GetAsync("/health")).Status);
        var (status, body) = await server.GetAsync("/health/ready");
        Assert.Equal(503, status);
        Assert.Contains("asterisk: FAIL (not connected)", body);
        Assert.Matches(@"switchboard_ami_connected\{[^}]*\} 0", (await server.GetAsync("/metrics")).Body);
    }

    [Fact]
    public async Task Ready_is_503_while_the_sip_port_does_not_answer()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--Sip:Port=0");
        Assert.True(server.Started, server.Output);
        Assert.Equal(200, (await server.GetAsync("/health/ready")).Status);
        // A firewall rule dropping what reaches the SIP port: bound, but unusable for every phone.
        string[] rule = ["INPUT", "-i", "lo", "-p", "udp", "--dport", server.SipPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-j", "DROP"];
        Assert.Equal(0, await IptablesAsync(["-I", .. rule]));
        try
        {
            var (status, body) = await server.GetAsync("/health/ready");
            Assert.Equal(503, status);
            Assert.Contains("sip: FAIL (no answer on 127.0.0.1:", body);
            Assert.Equal(200, (await server.GetAsync("/health")).Status);
        }
        finally
        {
            await IptablesAsync(["-D", .. rule]);
        }
        Assert.Equal(200, (await server.GetAsync("/health/ready")).Status);
    }

    private static async Task<int> IptablesAsync(string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("iptables") { RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }

    [Fact]
    public async Task Ready_is_200_with_the_sip_port_answering()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--Sip:Port=0");
        Assert.True(server.Started, server.Output);
        var (status, body) = await server.GetAsync("/health/ready");
        Assert.Equal(200, status);
        Assert.Contains("sip: ok", body);
        Assert.Contains("database: ok", body);
        // Request logging is off by default: no line per HTTP request.
        Assert.DoesNotContain("Request starting", server.Output);
    }
}
