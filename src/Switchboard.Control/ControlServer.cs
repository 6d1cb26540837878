using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Control;

/// <summary>Carries out one control request.</summary>
public delegate ValueTask<ControlReply> ControlHandler(ControlRequest request, CancellationToken cancellationToken);

/// <summary>
/// The control socket: a Unix domain socket whose file mode (0600, owner only) is the trust boundary, as for
/// <c>asterisk -rx</c>. It is bound in a private directory and moved into place, so there is no moment in which
/// the socket exists with a wider mode. One request per connection, bounded size, bounded time, bounded concurrency.
/// </summary>
public sealed partial class ControlServer : IAsyncDisposable
{
    /// <summary>Most control connections served at once; more are answered <c>busy</c>.</summary>
    public const int MaxConnections = 8;

    private readonly ControlHandler _handler;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private Socket? _listener;
    private Task? _accept;

    /// <summary>Creates the server for <paramref name="path"/>; <see cref="Start"/> binds it.</summary>
    public ControlServer(string path, ControlHandler handler, ILogger? log = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        _handler = handler;
        _log = log ?? NullLogger.Instance;
    }

    /// <summary>The socket file.</summary>
    public string Path { get; }

    /// <summary>How long a client may take to send its request line.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Binds the socket (replacing a stale file of a stopped server) and starts accepting.</summary>
    /// <exception cref="ControlSocketInUseException">another server answers on the path.</exception>
    public void Start()
    {
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        if (File.Exists(Path))
        {
            if (Answers(Path)) throw new ControlSocketInUseException(Path);
            File.Delete(Path);
        }
        var staging = System.IO.Path.Combine(dir, ".ctl-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)));
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(staging);
        else Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var temp = System.IO.Path.Combine(staging, "s");
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(temp));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(MaxConnections);
            File.Move(temp, Path);
            _listener = listener;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
        _accept = Task.Run(AcceptLoopAsync);
        Listening(_log, Path);
    }

    private static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                AcceptFailed(_log, ex.SocketErrorCode);
                continue;
            }
            if (!_slots.Wait(0))
            {
                _ = ReplyAndCloseAsync(client, ControlReply.Fail(ControlError.Busy, $"more than {MaxConnections} control connections at once"));
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ReplyAndCloseAsync(Socket client, ControlReply reply)
    {
        using (client)
        {
            try
            {
                await client.SendAsync(Encoding.UTF8.GetBytes(reply.ToWire()), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client left; nothing to tell.
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            var (error, request) = await ReadRequestAsync(client).ConfigureAwait(false);
            ControlReply reply;
            if (error is { } e)
            {
                Refused(_log, ControlProtocol.Name(e));
                reply = ControlReply.Fail(e, e switch
                {
                    ControlError.RequestTooLarge => $"a request is at most {ControlProtocol.MaxRequestBytes} bytes",
                    ControlError.Timeout => "no request line in time",
                    _ => "not a request line (words of printable ASCII separated by spaces, ending in LF)",
                });
            }
            else
            {
                try
                {
                    reply = await _handler(request!, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    CommandFailed(_log, request!.Command, ex);
                    reply = ControlReply.Fail(ControlError.Failed, $"{request.Command}: {ex.Message}");
                }
            }
            await ReplyAndCloseAsync(client, reply).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<(ControlError? Error, ControlRequest? Request)> ReadRequestAsync(Socket client)
    {
        var buffer = new byte[ControlProtocol.MaxRequestBytes + 2];
        int filled = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            while (true)
            {
                int lf = Array.IndexOf(buffer, (byte)'\n', 0, filled);
                if (lf >= 0)
                {
                    var error = ControlProtocol.TryParse(buffer.AsSpan(0, lf), out var request);
                    return (error, request);
                }
                if (filled == buffer.Length) return (ControlError.RequestTooLarge, null);
                int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    // A client that half-closes without LF sent its whole line.
                    var error = ControlProtocol.TryParse(buffer.AsSpan(0, filled), out var request);
                    return (error, request);
                }
                filled += n;
            }
        }
        catch (OperationCanceledException)
        {
            return (ControlError.Timeout, null);
        }
        catch (SocketException)
        {
            return (ControlError.BadRequest, null);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener?.Dispose();
        if (_accept is not null) await _accept.ConfigureAwait(false);
        try
        {
            if (_listener is not null) File.Delete(Path);
        }
        catch (IOException)
        {
            // Left behind; the next start replaces a socket nobody answers on.
        }
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Control socket listening on {Path} (switchboard ctl)")]
    private static partial void Listening(ILogger log, string path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Control socket: request refused ({Reason})")]
    private static partial void Refused(ILogger log, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Control command {Command} failed")]
    private static partial void CommandFailed(ILogger log, string command, Exception ex);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Control socket: accept failed ({Error})")]
    private static partial void AcceptFailed(ILogger log, SocketError error);
}

/// <summary>Another running server answers on the control socket path.</summary>
public sealed class ControlSocketInUseException(string path)
    : IOException($"the control socket {path} is in use by another running server (set Control:Socket to another path)")
{
    /// <summary>The socket file.</summary>
    public string SocketPath { get; } = path;
}

/// <summary>The client side (<c>switchboard ctl</c>).</summary>
public static class ControlClient
{
    /// <summary>Largest reply read (a listing of every binding of a big installation fits).</summary>
    public const int MaxReplyBytes = 4 * 1024 * 1024;

    /// <summary>Sends one request and returns the reply's status line and body lines.</summary>
    public static async Task<(string Status, IReadOnlyList<string> Lines)> SendAsync(string path, IEnumerable<string> words, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(Encoding.ASCII.GetBytes(string.Join(' ', words) + "\n"), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
        using var ms = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            if (ms.Length + n > MaxReplyBytes) throw new IOException($"the reply is larger than {MaxReplyBytes} bytes");
            ms.Write(buffer, 0, n);
        }
        var lines = Encoding.UTF8.GetString(ms.ToArray()).Split('\n');
        var body = lines.Skip(1).ToList();
        if (body.Count > 0 && body[^1].Length == 0) body.RemoveAt(body.Count - 1);
        return (lines[0], body);
    }
}
