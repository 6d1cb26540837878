using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchboard.Testing;

/// <summary>
/// A real Asterisk 22.10.1 (the build in <c>../shared/asterisk</c>, installed to <c>/opt/asterisk</c> by
/// <c>scripts/test.sh</c>), run in the foreground with its whole configuration in a directory of its own: AMI, PJSIP
/// and RTP on ports picked for this instance, so test classes run side by side. Killed when disposed.
/// </summary>
public sealed partial class AsteriskServer : IAsyncDisposable
{
    /// <summary>Where <c>asterisk.sh install</c> puts the binary.</summary>
    public const string Binary = "/opt/asterisk/sbin/asterisk";

    /// <summary>The AMI user <c>asterisk.sh config</c> writes.</summary>
    public const string AmiUser = "switchboard";

    /// <summary>Its secret (loopback only).</summary>
    public const string AmiSecret = "switchboard-test";

    private Process? _process;
    private StreamWriter? _log;

    private AsteriskServer(string dir, int amiPort, int sipPort)
    {
        Directory = dir;
        AmiPort = amiPort;
        SipPort = sipPort;
    }

    /// <summary>The configuration directory (etc/, log/, run/ ...).</summary>
    public string Directory { get; }

    /// <summary>The AMI TCP port on 127.0.0.1.</summary>
    public int AmiPort { get; }

    /// <summary>The PJSIP UDP port on 127.0.0.1.</summary>
    public int SipPort { get; }

    /// <summary>The process id while running.</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>
    /// Why Asterisk tests cannot run here, or null when they can: the binary is missing and no <c>../shared/asterisk</c>
    /// is beside the checkout to install it from.
    /// </summary>
    public static string? SkipReason
    {
        get
        {
            if (File.Exists(Binary) && FindScript() is not null) return null;
            if (FindScript() is null)
                return "no ../shared/asterisk beside the checkout (the Asterisk 22.10.1 build for tests); these tests need a real Asterisk";
            return $"{Binary} is missing: run scripts/test.sh (it installs ../shared/asterisk/asterisk.sh as root)";
        }
    }

    /// <summary>
    /// Writes a complete configuration with <c>asterisk.sh config</c>, moves its ports to free ones, replaces the
    /// files given in <paramref name="files"/> (name under etc/ → content; the test's own dialplan or manager.conf,
    /// with <c>{AMI_PORT}</c> standing for the AMI port; a name starting with '+' appends to that file) and starts Asterisk.
    /// </summary>
    public static async Task<AsteriskServer> StartAsync(string workDir, IReadOnlyDictionary<string, string>? files = null)
    {
        var script = FindScript() ?? throw new InvalidOperationException(SkipReason);
        var dir = System.IO.Directory.CreateDirectory(Path.Combine(workDir, "asterisk")).FullName;
        var config = Process.Start(new ProcessStartInfo("bash", [script, "config", dir]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await config.WaitForExitAsync();
        if (config.ExitCode != 0) throw new InvalidOperationException("asterisk.sh config failed: " + await config.StandardError.ReadToEndAsync());

        int amiPort = Ports.Block(1);
        int sipPort = Ports.Block(2);
        int rtp = Ports.Block(120);
        var etc = Path.Combine(dir, "etc");
        Replace(Path.Combine(etc, "manager.conf"), "port = 5038", $"port = {amiPort}");
        Replace(Path.Combine(etc, "pjsip.conf"), "bind = 127.0.0.1:5070", $"bind = 127.0.0.1:{sipPort}");
        Replace(Path.Combine(etc, "rtp.conf"), "rtpstart = 31000", $"rtpstart = {rtp}");
        Replace(Path.Combine(etc, "rtp.conf"), "rtpend = 31499", $"rtpend = {rtp + 119}");
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            var text = content.Replace("{AMI_PORT}", amiPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
            if (name.StartsWith('+')) File.AppendAllText(Path.Combine(etc, name[1..]), text);
            else File.WriteAllText(Path.Combine(etc, name), text);
        }

        var server = new AsteriskServer(dir, amiPort, sipPort);
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>The baresip account line of an endpoint of this Asterisk (password = extension + "pw").</summary>
    public string Account(string extension, string answerMode = "manual") =>
        $"<sip:{extension}@127.0.0.1:{SipPort}>;auth_pass={extension}pw;answermode={answerMode};regint=600";

    /// <summary>Starts Asterisk again with the same configuration and ports (after <see cref="Kill"/>).</summary>
    public Task RestartAsync() => StartProcessAsync();

    /// <summary>SIGKILL: no hangups, no goodbye on AMI, as in a crash.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            p.WaitForExit(5000);
        }
    }

    /// <summary>Runs a CLI command on the running Asterisk (asterisk -rx) and returns its output.</summary>
    public async Task<string> CliAsync(string command)
    {
        var psi = new ProcessStartInfo(Binary, ["-C", Path.Combine(Directory, "etc", "asterisk.conf"), "-rx", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return output;
    }

    /// <summary>The endpoints that have a registered contact ("pjsip show contacts").</summary>
    public async Task<IReadOnlyList<string>> RegisteredAsync()
    {
        var text = await CliAsync("pjsip show contacts");
        return [.. ContactLine().Matches(text).Select(m => m.Groups[1].Value)];
    }

    /// <summary>The channels Asterisk has right now ("core show channels concise").</summary>
    public async Task<IReadOnlyList<string>> ChannelsAsync()
    {
        var text = await CliAsync("core show channels concise");
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains('!', StringComparison.Ordinal))];
    }

    /// <summary>The end of Asterisk's console output, for failure messages.</summary>
    public string LogTail(int lines = 80)
    {
        try
        {
            using var f = new FileStream(Path.Combine(Directory, "console.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return string.Join('\n', new StreamReader(f).ReadToEnd().Split('\n').TakeLast(lines));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>Kills Asterisk (it has nothing to save).</summary>
    public ValueTask DisposeAsync()
    {
        if (_process is { } p)
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
            p.Dispose();
            _process = null;
        }
        _log?.Dispose();
        _log = null;
        return ValueTask.CompletedTask;
    }

    private async Task StartProcessAsync()
    {
        if (_process is { } old)
        {
            if (!old.HasExited) throw new InvalidOperationException("Asterisk is running already");
            old.Dispose();
        }
        _log ??= new StreamWriter(new FileStream(Path.Combine(Directory, "console.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var psi = new ProcessStartInfo(Binary, ["-C", Path.Combine(Directory, "etc", "asterisk.conf"), "-f", "-n"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        var p = Process.Start(psi)!;
        var log = _log;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        var sw = Stopwatch.StartNew();
        // "Asterisk Ready." is printed once every module is loaded; AMI accepts logins from then on.
        while (CountReady() <= _starts)
        {
            if (p.HasExited) throw new InvalidOperationException($"Asterisk exited at start ({p.ExitCode}):\n{LogTail()}");
            if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("Asterisk did not become ready:\n" + LogTail());
            await Task.Delay(50);
        }
        _starts++;
    }

    private int _starts;

    private int CountReady()
    {
        try
        {
            using var f = new FileStream(Path.Combine(Directory, "console.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var text = new StreamReader(f).ReadToEnd();
            int n = 0, i = 0;
            while ((i = text.IndexOf("Asterisk Ready.", i, StringComparison.Ordinal)) >= 0)
            {
                n++;
                i++;
            }
            return n;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static void Replace(string file, string from, string to)
    {
        var text = File.ReadAllText(file);
        if (!text.Contains(from, StringComparison.Ordinal)) throw new InvalidOperationException($"{file} has no '{from}' (asterisk.sh config changed?)");
        File.WriteAllText(file, text.Replace(from, to, StringComparison.Ordinal));
    }

    /// <summary>../shared/asterisk/asterisk.sh beside the checkout: looked for from the test binary upwards.</summary>
    private static string? FindScript()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(d.FullName, "..", "shared", "asterisk", "asterisk.sh"), Path.Combine(d.FullName, "shared", "asterisk", "asterisk.sh") })
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    [GeneratedRegex(@"^\s*Contact:\s+(\d+)/sip:", RegexOptions.Multiline)]
    private static partial Regex ContactLine();
}
