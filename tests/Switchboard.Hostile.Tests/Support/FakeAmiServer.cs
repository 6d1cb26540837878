using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>
/// A FAKE Asterisk manager interface (not an Asterisk): sends the banner, answers every action with
/// <c>Response: Success</c> and its ActionID, and writes whatever bytes the test hands it to the connected client.
/// A client that drops the connection (as it must on broken framing) is accepted again when it reconnects.
/// </summary>
internal sealed class FakeAmiServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<Connection> _connections = Channel.CreateUnbounded<Connection>();
    private readonly Task _accept;
    private Connection? _current;

    public FakeAmiServer()
    {
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far (one more each time the client reconnects).</summary>
    public int Accepted { get; private set; }

    /// <summary>Writes raw bytes to the client; waits for a (re)connected client first. False when it went away meanwhile.</summary>
    public async Task<bool> SendAsync(byte[] bytes, CancellationToken ct)
    {
        var c = await CurrentAsync(ct);
        try
        {
            await c.WriteAsync(bytes, ct);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _current = null;
            return false;
        }
    }

    private async Task<Connection> CurrentAsync(CancellationToken ct)
    {
        while (_current is null || _current.Closed)
        {
            _current = await _connections.Reader.ReadAsync(ct);
            try
            {
                await _current.LoggedIn.Task.WaitAsync(ct);
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                _current = null; // it went away before logging in; the client will come again
            }
        }
        return _current;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var tcp = await _listener.AcceptTcpClientAsync(_stop.Token);
                Accepted++;
                var c = new Connection(tcp);
                _ = c.RunAsync(_stop.Token);
                _connections.Writer.TryWrite(c);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        _stop.Dispose();
    }

    private sealed class Connection(TcpClient tcp)
    {
        private readonly SemaphoreSlim _write = new(1, 1);
        private readonly NetworkStream _stream = tcp.GetStream();

        public TaskCompletionSource LoggedIn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool Closed;

        public async Task WriteAsync(byte[] bytes, CancellationToken ct)
        {
            await _write.WaitAsync(ct);
            try
            {
                await _stream.WriteAsync(bytes, ct);
            }
            finally
            {
                _write.Release();
            }
        }

        public async Task RunAsync(CancellationToken ct)
        {
            try
            {
                await WriteAsync("Asterisk Call Manager/9.0.0\r\n"u8.ToArray(), ct);
                using var reader = new StreamReader(_stream, Encoding.UTF8);
                string? action = null, id = null;
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    if (line.StartsWith("Action: ", StringComparison.OrdinalIgnoreCase)) action = line[8..];
                    else if (line.StartsWith("ActionID: ", StringComparison.OrdinalIgnoreCase)) id = line[10..];
                    else if (line.Length == 0 && action is not null)
                    {
                        var msg = action.Equals("Login", StringComparison.OrdinalIgnoreCase) ? "Message: Authentication accepted\r\n" : "";
                        await WriteAsync(Encoding.UTF8.GetBytes($"Response: Success\r\nActionID: {id}\r\n{msg}\r\n"), ct);
                        // The client re-reads its state right after login; events go out once those answers are out.
                        if (action.Equals("DBGetTree", StringComparison.OrdinalIgnoreCase)) LoggedIn.TrySetResult();
                        action = id = null;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                Closed = true;
                LoggedIn.TrySetCanceled();
                tcp.Dispose();
            }
        }
    }
}
