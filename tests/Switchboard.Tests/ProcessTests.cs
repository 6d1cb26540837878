using Switchboard.Testing;

namespace Switchboard.Tests;

public sealed class ProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-proc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Forwarding_and_dnd_survive_kill_9_and_restart()
    {
        await using (var first = await ServerProcess.StartAsync(_dir, "--demo"))
        {
            Assert.StartsWith("200 ", await first.SendAsync("Forward 100 101"));
            Assert.StartsWith("200 ", await first.SendAsync("Forward 102 *"));
            Assert.StartsWith("200 ", await first.SendAsync("MakeCall 103 104"));
            await first.KillHardAsync();
        }
        await using var second = await ServerProcess.StartAsync(_dir, "--demo");
        Assert.Contains("forward 101", await second.SendAsync("Status 100"));
        Assert.Contains("dnd", await second.SendAsync("Status 102"));
        Assert.Contains("idle", await second.SendAsync("Status 103"));
    }

    [Fact]
    public async Task Equal_ip_interface_and_cti_server_ports_are_refused_at_start_up()
    {
        await using var server = await ServerProcess.StartAsync(_dir, "--IpInterface:Port=2599", "--CtiServer:Port=2599");
        await server.WaitForExitAsync();
        Assert.Equal(2, server.ExitCode);
        Assert.Contains("must differ from the CTI server port", server.Output);
    }

    [Fact]
    public async Task Configured_lists_replace_the_defaults_instead_of_extending_them()
    {
        await using (var server = await ServerProcess.StartAsync(_dir, "--demo", "--Simulation:Devices:0=200", "--Simulation:Devices:1=201",
            "--OutsideCalls:AllowedDevices:0=201"))
        {
            Assert.StartsWith("404 ", await server.SendAsync("Status 100"));
            Assert.StartsWith("200 ", await server.SendAsync("Status 200"));
            Assert.StartsWith("403 ", await server.SendAsync("MakeCall 200 0891234567"));
            Assert.StartsWith("200 ", await server.SendAsync("MakeCall 201 0891234567"));
        }
        // An allow-list of one subnet means that subnet only: loopback, a default entry, is no longer let in.
        await using var narrowed = await ServerProcess.StartAsync(_dir, "--demo", "--Access:AllowedClients:0=10.0.0.0/8");
        Assert.StartsWith("403 ", await narrowed.SendAsync("Status 100"));
    }

    [Fact]
    public async Task Asterisk_without_credentials_is_refused_at_start_up()
    {
        await using var server = await ServerProcess.StartAsync(_dir, "--PhoneSystem=asterisk", "--Asterisk:Devices:0=100");
        await server.WaitForExitAsync();
        Assert.Equal(2, server.ExitCode);
        Assert.Contains("needs Asterisk:Username and Asterisk:Secret", server.Output);
    }

    [Fact]
    public async Task Asterisk_that_cannot_be_reached_gives_503_and_the_interface_keeps_serving()
    {
        // A port with nothing listening: the connector keeps retrying in the background.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int amiPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var server = await ServerProcess.StartAsync(_dir, "--PhoneSystem=asterisk", "--Asterisk:Host=127.0.0.1",
            $"--Asterisk:Port={amiPort}", "--Asterisk:Username=cti", "--Asterisk:Secret=not-logged-7f3a", "--Asterisk:Devices:0=100", "--Asterisk:Devices:1=101");
        Assert.StartsWith("503 MakeCall 100 101: not connected to Asterisk", await server.SendAsync("MakeCall 100 101"));
        Assert.StartsWith("404 ", await server.SendAsync("Status 999"));
        // The connector knows nothing current while Asterisk is away: Status answers 503 like the other commands.
        Assert.StartsWith("503 Status 100: not connected to Asterisk", await server.SendAsync("Status 100"));
        Assert.DoesNotContain("not-logged-7f3a", server.Output);
    }

    [Fact]
    public async Task Dial_file_present_at_start_up_is_executed_and_removed()
    {
        var dial = Directory.CreateDirectory(Path.Combine(_dir, "dial")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dial, "call.CTI"), "Forward 105 104\r\n");
        await using var server = await ServerProcess.StartAsync(_dir, "--demo", "--DialFiles:SettleTime=00:00:00.100", "--DialFiles:ScanInterval=00:00:00.200");
        for (int i = 0; i < 100 && File.Exists(Path.Combine(dial, "call.CTI")); i++) await Task.Delay(100);
        Assert.False(File.Exists(Path.Combine(dial, "call.CTI")));
        // The watcher takes the file away before its command has run; the forwarding shows once the command is done.
        var status = await server.SendAsync("Status 105");
        for (int i = 0; i < 100 && !status.Contains("forward 104"); i++)
        {
            await Task.Delay(100);
            status = await server.SendAsync("Status 105");
        }
        Assert.True(status.Contains("forward 104"), status + "\n" + server.Output);
    }
}

public sealed class SipProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-sipproc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_registered_phone_is_still_reachable_after_kill_9_and_restart()
    {
        // The switch listens on UDP and TCP at Sip:Port and TLS at the next port: all of them must be free.
        int sipPort = Switchboard.Testing.Ports.Block(2);
        string[] args = ["--PhoneSystem=sip", $"--Sip:Port={sipPort}", "--Sip:ListenAddress=127.0.0.1", "--Sip:Passwords:100=secret100"];
        await using (var first = await ServerProcess.StartAsync(_dir, args))
        {
            Assert.Contains("unreachable", await first.SendAsync("Status 100"));
            Assert.Equal(200, await SipRegister.RegisterAsync(sipPort, "100", "secret100"));
            Assert.Contains("100: reachable", await first.SendAsync("Status 100"));
            await first.KillHardAsync();
        }
        await using var second = await ServerProcess.StartAsync(_dir, args);
        Assert.Contains("100: reachable", await second.SendAsync("Status 100"));
        Assert.Contains("101: unreachable", await second.SendAsync("Status 101"));
    }

    [Fact]
    public async Task First_start_generates_a_password_per_extension_and_shows_it_once()
    {
        // The switch listens on UDP and TCP at Sip:Port and TLS at the next port: all of them must be free.
        int sipPort = Switchboard.Testing.Ports.Block(2);
        string[] args = ["--PhoneSystem=sip", $"--Sip:Port={sipPort}", "--Sip:ListenAddress=127.0.0.1"];
        string password;
        await using (var first = await ServerProcess.StartAsync(_dir, args))
        {
            var line = first.Output.Split('\n').First(l => l.Contains("extension 101: password", StringComparison.Ordinal));
            password = line[(line.IndexOf("password ", StringComparison.Ordinal) + 9)..].Trim();
            Assert.Equal(16, password.Length);
            Assert.Equal(403, await SipRegister.RegisterAsync(sipPort, "101", "wrong"));
            Assert.Equal(200, await SipRegister.RegisterAsync(sipPort, "101", password));
        }
        await using var second = await ServerProcess.StartAsync(_dir, args);
        // 101 registered with its password, so it is no longer shown (nor stored readable); the others still are.
        Assert.DoesNotContain("extension 101: password", second.Output, StringComparison.Ordinal);
        Assert.Contains("extension 100: password", second.Output, StringComparison.Ordinal);
        Assert.Equal(200, await SipRegister.RegisterAsync(sipPort, "101", password));
    }
}
