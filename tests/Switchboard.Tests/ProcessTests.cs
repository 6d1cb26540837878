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
    public async Task Dial_file_present_at_start_up_is_executed_and_removed()
    {
        var dial = Directory.CreateDirectory(Path.Combine(_dir, "dial")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dial, "call.CTI"), "Forward 105 104\r\n");
        await using var server = await ServerProcess.StartAsync(_dir, "--demo", "--DialFiles:SettleTime=00:00:00.100", "--DialFiles:ScanInterval=00:00:00.200");
        for (int i = 0; i < 100 && File.Exists(Path.Combine(dial, "call.CTI")); i++) await Task.Delay(100);
        Assert.False(File.Exists(Path.Combine(dial, "call.CTI")));
        var status = await server.SendAsync("Status 105");
        Assert.True(status.Contains("forward 104"), status + "\n" + server.Output);
    }
}
