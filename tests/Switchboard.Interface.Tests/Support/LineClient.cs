using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Interface.Tests.Support;

/// <summary>
/// A raw TCP client for the stream port: sends bytes as given and reads CRLF lines or exact byte counts, so tests see
/// exactly what the server wrote (HTTP helpers build on it too).
/// </summary>
public sealed class LineClient : IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;

    private LineClient(Socket socket)
    {
        Socket = socket;
    }

    /// <summary>The connected socket (for Shutdown and buffer settings).</summary>
    public Socket Socket { get; }

    /// <summary>Connects to the server.</summary>
    public static async Task<LineClient> ConnectAsync(IPEndPoint endPoint, Action<Socket>? beforeConnect = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        beforeConnect?.Invoke(socket);
        await socket.ConnectAsync(endPoint);
        return new LineClient(socket);
    }

    /// <summary>Sends text as Latin-1 bytes, without adding a line end.</summary>
    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Sends raw bytes.</summary>
    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Poll.Timeout);
        await Socket.SendAsync(bytes, SocketFlags.None, cts.Token);
    }

    /// <summary>Sends one command line and returns the reply line.</summary>
    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadLineAsync() ?? throw new IOException($"connection closed before the reply to '{line}'");
    }

    /// <summary>The next line without its line end, or null when the server closed the connection.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Poll.Timeout);
        var line = new List<byte>();
        while (true)
        {
            if (_start == _end && !await FillAsync(cts.Token)) return line.Count == 0 ? null : Encoding.Latin1.GetString([.. line]);
            var b = _buffer[_start++];
            if (b == '\n') return Encoding.Latin1.GetString([.. line]).TrimEnd('\r');
            line.Add(b);
        }
    }

    /// <summary>Exactly <paramref name="count"/> bytes.</summary>
    public async Task<byte[]> ReadBytesAsync(int count)
    {
        using var cts = new CancellationTokenSource(Poll.Timeout);
        var result = new byte[count];
        for (int i = 0; i < count; i++)
        {
            if (_start == _end && !await FillAsync(cts.Token)) throw new IOException($"connection closed after {i} of {count} bytes");
            result[i] = _buffer[_start++];
        }
        return result;
    }

    /// <summary>Every line until the server closes the connection.</summary>
    public async Task<List<string>> ReadToEndAsync(TimeSpan? timeout = null)
    {
        var lines = new List<string>();
        while (await ReadLineAsync(timeout) is { } line) lines.Add(line);
        return lines;
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        try
        {
            _start = 0;
            _end = await Socket.ReceiveAsync(_buffer, SocketFlags.None, ct);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no data from the server in time");
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            _end = 0;
        }
        return _end > 0;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
