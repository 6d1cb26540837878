using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Operations.Tests;

/// <summary>
/// The .deb as an administrator uses it: built by scripts/package.sh, installed with dpkg -i on this machine, the
/// installed binary started as the service user (as the unit does, with systemd's notify socket), answering on its
/// ports and to ctl, stopped with SIGTERM, then purged. Slow (a publish): CI runs it, filter it out locally with
/// --filter Category!=Slow.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ops-deb-").FullName;

    public void Dispose()
    {
        // Whatever happened, leave the machine as it was.
        Run("dpkg", "--purge", "switchboard");
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_deb_installs_starts_as_its_own_user_answers_stops_cleanly_and_purges()
    {
        Assert.True(Environment.UserName == "root", "dpkg -i needs root");
        var repo = RepoRoot();
        var (built, deb) = Run(Path.Combine(repo, "scripts", "package.sh"), Path.Combine(_dir, "out"));
        Assert.True(built == 0, deb);
        deb = deb.Split('\n').Last(l => l.StartsWith('/') && l.EndsWith(".deb", StringComparison.Ordinal));
        var (installed, log) = Run("dpkg", "-i", deb);
        Assert.True(installed == 0, log);

        Assert.Contains("Type=notify", await File.ReadAllTextAsync("/lib/systemd/system/switchboard.service"));
        Assert.Equal(0, Run("getent", "passwd", "switchboard").Code);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode("/var/lib/switchboard"));

        var notify = Path.Combine(_dir, "notify");
        using var notifySocket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notifySocket.Bind(new UnixDomainSocketEndPoint(notify));
        File.SetUnixFileMode(notify, (UnixFileMode)0x1FF); // the service user must be able to write to it
        File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED);

        // Microsoft.Extensions.Hosting.Systemd acts only under a parent process named "systemd": a shell copied
        // under that name stands in for it (forking and waiting, as systemd does), so Type=notify is what is tested.
        var systemd = Path.Combine(_dir, "systemd");
        File.Copy("/bin/bash", systemd);
        File.SetUnixFileMode(systemd, (UnixFileMode)0x1ED);
        var psi = new ProcessStartInfo("runuser") { WorkingDirectory = "/var/lib/switchboard", RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-u", "switchboard", "--", systemd, "-c", "/usr/bin/switchboard --config /etc/switchboard/switchboard.json; exit $?" })
            psi.ArgumentList.Add(a);
        // Ports of this test's own (the example configuration uses the standard ones); systemd's variables as the unit gets them.
        psi.Environment["SWITCHBOARD_Sip__Port"] = "0";
        psi.Environment["SWITCHBOARD_Sip__ListenAddress"] = "127.0.0.1";
        psi.Environment["SWITCHBOARD_IpInterface__Port"] = "0";
        psi.Environment["SWITCHBOARD_IpInterface__ListenAddress"] = "127.0.0.1";
        psi.Environment["SWITCHBOARD_CtiServer__Port"] = "0";
        psi.Environment["SWITCHBOARD_CtiServer__ListenAddress"] = "127.0.0.1";
        psi.Environment["INVOCATION_ID"] = "switchboard-package-test";
        psi.Environment["NOTIFY_SOCKET"] = notify;
        var output = new StringBuilder();
        var startLine = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = Process.Start(psi)!;
        try
        {
            DataReceivedEventHandler onLine = (_, e) =>
            {
                if (e.Data is null) return;
                lock (output) output.AppendLine(e.Data);
                if (e.Data.Contains("StartupReport[1020]", StringComparison.Ordinal)) startLine.TrySetResult(e.Data);
            };
            server.OutputDataReceived += onLine;
            server.ErrorDataReceived += onLine;
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();

            var buffer = new byte[256];
            using var readyWait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            int n = await notifySocket.ReceiveAsync(buffer, SocketFlags.None, readyWait.Token);
            Assert.Contains("READY=1", Encoding.ASCII.GetString(buffer, 0, n));
            var line = await startLine.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains("database /var/lib/switchboard/switchboard.db", line);

            // ctl finds the socket from /etc/switchboard/switchboard.json, as an administrator types it.
            var (ctl, status) = Run("/usr/bin/switchboard", "ctl", "status");
            Assert.True(ctl == 0, status + output);
            Assert.Contains("ready: yes", status);
            int ip = PortAfter(line, "IP interface ");
            using (var client = new TcpClient())
            {
                await client.ConnectAsync("127.0.0.1", ip);
                await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("Status 100\r\n"));
                using var reader = new StreamReader(client.GetStream());
                Assert.StartsWith("200 Status 100", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            }
            foreach (var file in Directory.GetFiles("/var/lib/switchboard", "*.db"))
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

            // SIGTERM to the server itself, as systemd's stop does.
            Assert.Equal(0, Run("pkill", "-TERM", "-P", Run("pgrep", "-P", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).Output.Trim()).Code);
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(server.ExitCode == 0, output.ToString());
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }

        var (purged, purgeLog) = Run("dpkg", "--purge", "switchboard");
        Assert.True(purged == 0, purgeLog);
        Assert.False(Directory.Exists("/var/lib/switchboard"));
        Assert.False(File.Exists("/usr/bin/switchboard"));
        Assert.NotEqual(0, Run("getent", "passwd", "switchboard").Code);
    }

    private static int PortAfter(string line, string marker)
    {
        int i = line.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var endpoint = line[i..line.IndexOf(',', i)];
        return int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Switchboard.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(8))) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
