using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Switchboard.Operations.Tests;

/// <summary>The real switchboard executable in a working directory of its own, its ports read from its start line.</summary>
internal sealed class Switchboard : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Switchboard(Process process) => _process = process;

    // OPS_SWITCHBOARD_DLL runs the same tests against another build (to check they fail without the fixes).
    public static string Dll => Environment.GetEnvironmentVariable("OPS_SWITCHBOARD_DLL") ?? Path.Combine(AppContext.BaseDirectory, "switchboard.dll");

    public string Output { get { lock (_output) return _output.ToString(); } }

    public int SipPort { get; private set; }

    public int IpPort { get; private set; }

    public int WebPort { get; private set; }

    public string ControlSocket { get; private set; } = "";

    public bool Started => _started.Task.IsCompletedSuccessfully;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Runs the executable to its end (for --help, --version, ctl and failing starts).</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the server on loopback with ports picked by the system; returns once its start line is out, or it ended.</summary>
    public static async Task<Switchboard> StartAsync(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Dll);
        foreach (var a in new[] { "--IpInterface:Port=0", "--IpInterface:ListenAddress=127.0.0.1", "--CtiServer:Port=0", "--CtiServer:ListenAddress=127.0.0.1",
            "--Sip:ListenAddress=127.0.0.1", "--DialFiles:Enabled=false" }.Concat(args))
            psi.ArgumentList.Add(a);
        var server = new Switchboard(Process.Start(psi)!);
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        await Task.WhenAny(server._started.Task, server._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        return server;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (!line.Contains("StartupReport[1020]", StringComparison.Ordinal) && !(line.Contains("\"EventId\":1020", StringComparison.Ordinal) && line.Contains("StartupReport", StringComparison.Ordinal))) return;
        SipPort = PortAfter(line, "SIP ");
        IpPort = PortAfter(line, "IP interface ");
        var web = After(line, "CTI server port ");
        WebPort = web == "off" ? 0 : int.Parse(web, CultureInfo.InvariantCulture);
        ControlSocket = After(line, "control socket ");
        _started.TrySetResult();
    }

    private static string After(string line, string marker)
    {
        int i = line.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        int end = line.IndexOf(',', i);
        return line[i..(end < 0 ? line.Length : end)];
    }

    private static int PortAfter(string line, string marker)
    {
        var endpoint = After(line, marker);
        if (endpoint == "-") return 0;
        return int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>Runs <c>switchboard ctl …</c> against this server's socket.</summary>
    public Task<(int Code, string Out, string Err)> CtlAsync(params string[] words) =>
        RunAsync(Path.GetDirectoryName(ControlSocket)!, ["ctl", "--socket", ControlSocket, .. words]);

    /// <summary>Sends one command to the IP interface and returns the reply line.</summary>
    public async Task<string> CommandAsync(string command)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", IpPort);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? "";
    }

    /// <summary>GET on the web port: status code and body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        using var r = await http.GetAsync($"http://127.0.0.1:{WebPort}{path}");
        return ((int)r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    /// <summary>Stops with SIGTERM (as systemd does) and waits for the exit.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        return _process.ExitCode;
    }

    public async Task WaitForExitAsync() => await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
