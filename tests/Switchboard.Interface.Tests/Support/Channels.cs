using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Interface.Tests.Support;

/// <summary>One front end seen as "send a command line, get its reply line", so the same test runs on all four.</summary>
public interface ICommandChannel : IAsyncDisposable
{
    /// <summary>False where a successful reply's text is not visible to the client (dial files keep only failures).</summary>
    bool ShowsSuccessText { get; }

    /// <summary>Sends one command line and returns its reply line.</summary>
    Task<string> SendAsync(string line);
}

/// <summary>A TCP connection carrying many commands.</summary>
public sealed class TcpChannel(LineClient client) : ICommandChannel
{
    /// <inheritdoc />
    public bool ShowsSuccessText => true;

    /// <inheritdoc />
    public Task<string> SendAsync(string line) => client.CommandAsync(line);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => client.DisposeAsync();
}

/// <summary>One UDP socket; each command is a datagram, each reply a datagram back to it.</summary>
public sealed class UdpChannel(IPEndPoint server) : ICommandChannel
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));

    /// <inheritdoc />
    public bool ShowsSuccessText => true;

    /// <inheritdoc />
    public async Task<string> SendAsync(string line)
    {
        await _udp.SendAsync(Encoding.ASCII.GetBytes(line), server);
        using var cts = new CancellationTokenSource(Poll.Timeout);
        var reply = Encoding.ASCII.GetString((await _udp.ReceiveAsync(cts.Token)).Buffer);
        Assert.EndsWith("\r\n", reply);
        return reply.TrimEnd('\r', '\n');
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _udp.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// HTTP GET with the command in the path, on one keep-alive connection. Success is 204 with the reply line in the
/// X-Switchboard-Reply header; failure is the reply code as status with the reply line as body.
/// </summary>
public sealed class HttpChannel(LineClient client) : ICommandChannel
{
    /// <inheritdoc />
    public bool ShowsSuccessText => true;

    /// <inheritdoc />
    public async Task<string> SendAsync(string line)
    {
        var r = await client.RequestAsync("GET", Http.PathOf(line));
        var reply = r.Status == 204 ? r.Header("X-Switchboard-Reply")! : r.Body.TrimEnd('\r', '\n');
        Assert.Equal(r.Status == 204 ? 200 : r.Status, int.Parse(reply[..3], System.Globalization.CultureInfo.InvariantCulture));
        if (r.Status != 204) Assert.StartsWith("text/plain", r.Header("Content-Type"));
        return reply;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => client.DisposeAsync();
}

/// <summary>
/// A dial file per command: success is the file being executed and removed; a failure is read from the .log that
/// lands in failed/ beside the file.
/// </summary>
public sealed class DialFileChannel(string directory) : ICommandChannel
{
    private int _count;

    /// <inheritdoc />
    public bool ShowsSuccessText => false;

    /// <inheritdoc />
    public async Task<string> SendAsync(string line)
    {
        var name = $"cmd{++_count:D3}.CTI";
        var path = Path.Combine(directory, name);
        var failed = Path.Combine(directory, "failed", name);
        await File.WriteAllTextAsync(path, line + "\r\n");
        await Poll.UntilAsync(() => !File.Exists(path) && !File.Exists(Path.Combine(directory, "processing", name)), $"dial file {name} to be taken");
        if (!File.Exists(failed)) return "200 (dial file executed and removed)";
        await Poll.UntilAsync(() => File.Exists(failed + ".log"), $"the log of {name}");
        var log = await File.ReadAllLinesAsync(failed + ".log");
        var entry = Assert.Single(log);
        return entry[(entry.IndexOf(" -> ", StringComparison.Ordinal) + 4)..];
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
