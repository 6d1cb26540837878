using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Switchboard.Diagnostics;
using Switchboard.Interface.Commands;
using Switchboard.Interface.Datagram;
using Switchboard.Interface.Stream;
using Switchboard.Networking;
using Switchboard.Telephony;

namespace Switchboard.Interface;

/// <summary>
/// The IP interface port: a TCP stream socket (command lines, Monitor, HTTP) and a UDP datagram socket on the same
/// port number. With port 0 the TCP port is picked by the system and UDP binds the same number.
/// </summary>
public sealed partial class IpInterfaceServer : IHostedService, IAsyncDisposable
{
    private readonly CommandInterpreter _interpreter;
    private readonly CallEventHub _events;
    private readonly IpInterfaceOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<StreamConnection, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConnectionLimiter _limiter;
    private readonly LogThrottle _throttle;
    private Socket? _listener;
    private DatagramFrontEnd? _udp;
    private Task? _acceptLoop;
    private Task? _sweeper;
    private int _disposed;

    /// <summary>Creates the server; call <see cref="StartAsync"/> to listen.</summary>
    public IpInterfaceServer(CommandInterpreter interpreter, CallEventHub events, IOptions<IpInterfaceOptions> options, ILogger<IpInterfaceServer>? log = null)
    {
        _interpreter = interpreter;
        _events = events;
        _options = options.Value;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _limiter = new ConnectionLimiter(Math.Max(1, _options.MaxConnections), Math.Max(1, _options.MaxConnectionsPerClient));
        _throttle = new LogThrottle(_log);
    }

    /// <summary>The bound TCP endpoint (valid after start).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    /// <summary>Number of open TCP connections.</summary>
    public int ConnectionCount => _connections.Count;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(_options.ListenAddress);
        for (int attempt = 0; ; attempt++)
        {
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.Equals(IPAddress.IPv6Any)) listener.DualMode = true;
                listener.Bind(new IPEndPoint(address, _options.Port));
                listener.Listen(512);
                var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
                if (_options.EnableUdp) _udp = new DatagramFrontEnd(_interpreter, _options, new IPEndPoint(address, port), _log);
                _listener = listener;
                break;
            }
            catch (SocketException ex) when (_options.Port == 0 && attempt < 20 && ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                // The UDP port with the number TCP got is taken: try another pair.
                listener.Dispose();
            }
            catch (SocketException ex)
            {
                listener.Dispose();
                throw new InvalidOperationException($"IP interface cannot listen on {_options.ListenAddress} port {_options.Port}: {ex.Message}", ex);
            }
        }
        _udp?.Start(_stopping.Token);
        _acceptLoop = AcceptLoopAsync();
        _sweeper = SweepAsync();
        InterfaceLog.Listening(_log, LocalEndPoint, _options.EnableUdp ? " + UDP datagram" : "", _interpreter.CallControl.Kind);
        if (_interpreter.Access.OpenToAllOrigins) Access.AccessLog.OpenToAllOrigins(_log);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (socket.RemoteEndPoint is not IPEndPoint remote)
            {
                socket.Dispose();
                continue;
            }
            // Decided before the connection takes a slot or a task: a refused client costs one short write.
            if (_interpreter.Access.CheckClient(remote.Address) is { } notAllowed)
            {
                if (_throttle.Allow("refused connections (not allowed)", remote.Address)) Log.NotAllowed(_log, remote);
                Refuse(socket, $"403 {notAllowed}");
                continue;
            }
            var refusal = _limiter.TryAcquire(remote.Address);
            if (refusal != ConnectionRefusal.None)
            {
                if (_throttle.Allow("refused connections (limit)", remote.Address))
                {
                    if (refusal == ConnectionRefusal.SourceFull) Log.ClientFull(_log, remote, _options.MaxConnectionsPerClient);
                    else Log.ServerFull(_log, remote, _options.MaxConnections);
                }
                Refuse(socket, refusal == ConnectionRefusal.SourceFull
                    ? $"503 too many connections from {Display(remote.Address)} (IpInterface:MaxConnectionsPerClient {_options.MaxConnectionsPerClient}); try again later"
                    : "503 too many connections; try again later");
                continue;
            }
            StreamConnection connection;
            try
            {
                connection = new StreamConnection(socket, _interpreter, _events, _options, _log, _throttle, _stopping.Token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                _limiter.Release(remote.Address);
                socket.Dispose();
                continue;
            }
            var task = Task.Run(async () =>
            {
                try
                {
                    await connection.RunAsync().ConfigureAwait(false);
                }
                finally
                {
                    _connections.TryRemove(connection, out _);
                    _limiter.Release(remote.Address);
                }
            });
            _connections.TryAdd(connection, task);
        }
    }

    /// <summary>One timer for all connections' idle, line and write timeouts.</summary>
    private async Task SweepAsync()
    {
        var shortest = new[] { _options.IdleTimeout, _options.LineTimeout, _options.WriteTimeout }.Min();
        var period = TimeSpan.FromTicks(Math.Clamp(shortest.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromSeconds(1).Ticks));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                long now = System.Diagnostics.Stopwatch.GetTimestamp();
                bool underLoad = _limiter.Count > _options.MaxConnections / 4 * 3;
                var idle = underLoad && _options.IdleTimeoutUnderLoad < _options.IdleTimeout ? _options.IdleTimeoutUnderLoad : _options.IdleTimeout;
                foreach (var c in _connections.Keys) c.CheckTimeouts(now, idle, underLoad);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// One reply line, then close, without waiting: the line fits the empty send buffer of a new socket, so a
    /// non-blocking send never stalls the accept loop, and no task or timer is spent on a refused client.
    /// </summary>
    private static void Refuse(Socket socket, string reply)
    {
        try
        {
            socket.Blocking = false;
            socket.Send(System.Text.Encoding.ASCII.GetBytes(reply + "\r\n"), SocketFlags.None, out _);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static string Display(IPAddress a) => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString();

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _listener?.Dispose();
        _udp?.Dispose();
        foreach (var c in _connections.Keys) await c.DisposeAsync().ConfigureAwait(false);
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        if (_sweeper is not null) await _sweeper.ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _throttle.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "Refusing connection from {Remote}: not in Access:AllowedClients")]
        public static partial void NotAllowed(ILogger log, IPEndPoint remote);

        [LoggerMessage(EventId = 2502, Level = LogLevel.Warning, Message = "Refusing connection from {Remote}: {Max} connections open from this address (IpInterface:MaxConnectionsPerClient)")]
        public static partial void ClientFull(ILogger log, IPEndPoint remote, int max);

        [LoggerMessage(EventId = 2503, Level = LogLevel.Warning, Message = "Refusing connection from {Remote}: {Max} connections open")]
        public static partial void ServerFull(ILogger log, IPEndPoint remote, int max);
    }
}
