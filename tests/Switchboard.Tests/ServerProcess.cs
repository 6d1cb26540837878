using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Tests;

/// <summary>The real switchboard executable started as a separate process in a working directory of its own.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process) => _process = process;

    public int Port => _port.Task.Result;

    public string Output { get { lock (_output) return _output.ToString(); } }

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public static async Task<ServerProcess> StartAsync(string workDir, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "switchboard.dll");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in new[] { "--IpInterface:Port=0", "--IpInterface:ListenAddress=127.0.0.1", "--CtiServer:Port=0" }.Concat(args)) psi.ArgumentList.Add(a);
        var server = new ServerProcess(Process.Start(psi)!);
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var done = await Task.WhenAny(server._port.Task, server._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (done != server._port.Task && !server._process.HasExited) server._process.Kill();
        return server;
    }

    public Task WaitForExitAsync() => _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        const string marker = "IP interface listening on 127.0.0.1:";
        int i = line.IndexOf(marker, StringComparison.Ordinal);
        if (i >= 0)
        {
            var digits = new string(line[(i + marker.Length)..].TakeWhile(char.IsAsciiDigit).ToArray());
            _port.TrySetResult(int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Sends one command over TCP and returns the reply line.</summary>
    public async Task<string> SendAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? "";
    }

    /// <summary>Kills the process the hard way (SIGKILL), as a crash would.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

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
