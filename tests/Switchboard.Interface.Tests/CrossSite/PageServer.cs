using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Interface.Tests.CrossSite;

/// <summary>
/// A second local web server that serves one HTML page at <c>/</c>: the "other web site" whose page a browser opens,
/// on its own port (so its origin differs from the IP port's). Plain sockets, one request per connection.
/// </summary>
public sealed class PageServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Func<string> _html;

    /// <summary>Starts serving the page the function returns (called per request, so it may name this server's own port).</summary>
    public PageServer(Func<PageServer, string> html)
    {
        _listener.Start();
        _html = () => html(this);
        _loop = AcceptAsync();
    }

    /// <summary>The port the page is served on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = ServeAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[8192];
                int n = 0;
                while (n < buffer.Length)
                {
                    int got = await stream.ReadAsync(buffer.AsMemory(n), _stop.Token);
                    if (got == 0) return;
                    n += got;
                    if (buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8) >= 0) break;
                }
                bool root = buffer.AsSpan(0, n).StartsWith("GET / "u8);
                var body = Encoding.UTF8.GetBytes(root ? _html() : "not here");
                var head = $"HTTP/1.1 {(root ? "200 OK" : "404 Not Found")}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
                await stream.WriteAsync(body, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
