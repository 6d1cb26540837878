using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Diagnostics;
using Switchboard.Networking;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Transport;

/// <summary>The transport protocol of a SIP hop.</summary>
public enum SipProtocol
{
    /// <summary>UDP datagrams.</summary>
    Udp,
    /// <summary>A TCP stream with Content-Length framing.</summary>
    Tcp,
}

/// <summary>A transport address: protocol and IP endpoint.</summary>
public readonly record struct SipEndPoint(SipProtocol Protocol, IPEndPoint Address)
{
    /// <inheritdoc />
    public override string ToString() => $"{Protocol.ToString().ToUpperInvariant()}:{Address}";
}

/// <summary>Settings of the transport layer.</summary>
public sealed class SipTransportOptions
{
    /// <summary>Address to listen on.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>Port for UDP and TCP (0 = any; TCP then binds the port UDP got).</summary>
    public int Port { get; set; } = 5060;

    /// <summary>Listen on TCP too.</summary>
    public bool EnableTcp { get; set; } = true;

    /// <summary>Parser limits.</summary>
    public SipParserLimits Limits { get; set; } = SipParserLimits.Default;

    /// <summary>Most TCP connections at once.</summary>
    public int MaxTcpConnections { get; set; } = 2048;

    /// <summary>Idle TCP connections are closed after this time.</summary>
    public TimeSpan TcpIdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most accepted TCP connections from one source address (checked at accept, before a slot is taken).</summary>
    public int MaxTcpConnectionsPerSource { get; set; } = 128;

    /// <summary>An accepted TCP connection that has not delivered one complete SIP message within this time is closed.</summary>
    public TimeSpan TcpFirstMessageTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The server's public address when it sits behind NAT (written towards peers outside <see cref="LocalNetworks"/>); null for none.</summary>
    public IPAddress? AdvertisedAddress { get; set; }

    /// <summary>Networks whose peers are answered with the local address even when <see cref="AdvertisedAddress"/> is set.</summary>
    public IReadOnlyList<IPNetwork> LocalNetworks { get; set; } = [];
}

/// <summary>
/// SIP over UDP and TCP (RFC 3261 §18): receives and parses messages, stamps <c>received</c>/<c>rport</c> (RFC 3581)
/// on requests, sends responses back the way the request came, answers malformed requests with 400 and a reason, and
/// reuses TCP connections in both directions.
/// </summary>
public sealed class SipTransport : IAsyncDisposable
{
    private readonly SipTransportOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<IPEndPoint, TcpConnection> _tcp = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _udp;
    private Socket? _listener;
    private Func<SipMessage, SipEndPoint, Task>? _handler;
    private readonly ConnectionLimiter _accepted;
    private readonly LogThrottle _throttle;

    /// <summary>Creates the transport; call <see cref="Start"/>.</summary>
    public SipTransport(SipTransportOptions options, ILogger? log = null)
    {
        _options = options;
        _log = log ?? NullLogger.Instance;
        _accepted = new ConnectionLimiter(options.MaxTcpConnections, options.MaxTcpConnectionsPerSource);
        _throttle = new LogThrottle(_log);
        Addresses = new LocalAddressSelector(options.Address, options.AdvertisedAddress, options.LocalNetworks);
        Trace = new SipMessageTrace(_log);
    }

    /// <summary>The per-device message trace (<c>switchboard ctl sip-trace on EXT</c>), off until switched on.</summary>
    public SipMessageTrace Trace { get; }

    /// <summary>Accepted TCP connections currently open (connections this side opened are not counted).</summary>
    public int AcceptedTcpConnections => _accepted.Count;

    /// <summary>Which local address to write towards each peer (Via, Contact, SDP).</summary>
    public LocalAddressSelector Addresses { get; }

    /// <summary>The bound UDP endpoint.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_udp!.LocalEndPoint!;

    /// <summary>Messages received that were malformed (answered with 400 or dropped).</summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);

    private long _malformed;

    /// <summary>Binds the sockets and starts receiving; each valid message goes to <paramref name="handler"/>.</summary>
    public void Start(Func<SipMessage, SipEndPoint, Task> handler)
    {
        _handler = handler;
        for (int attempt = 0; ; attempt++)
        {
            var udp = new Socket(_options.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            udp.ReceiveBufferSize = 4 * 1024 * 1024;
            udp.SendBufferSize = 4 * 1024 * 1024;
            udp.Bind(new IPEndPoint(_options.Address, _options.Port));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            if (!_options.EnableTcp)
            {
                _udp = udp;
                break;
            }
            var tcp = new Socket(_options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(_options.Address, port));
                tcp.Listen(512);
                _udp = udp;
                _listener = tcp;
                break;
            }
            catch (SocketException) when (_options.Port == 0 && attempt < 20)
            {
                udp.Dispose();
                tcp.Dispose();
            }
        }
        _ = ReceiveUdpAsync();
        if (_listener is not null) _ = AcceptAsync();
    }

    /// <summary>Sends a message to a transport address (over an existing TCP connection when there is one).</summary>
    public async Task SendAsync(SipMessage message, SipEndPoint to)
    {
        Trace.Sent(message, to);
        var bytes = message.ToBytes();
        try
        {
            if (to.Protocol == SipProtocol.Udp)
            {
                await _udp!.SendToAsync(bytes, SocketFlags.None, to.Address, _stop.Token).ConfigureAwait(false);
                return;
            }
            if (!_tcp.TryGetValue(to.Address, out var conn))
            {
                var socket = new Socket(to.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await socket.ConnectAsync(to.Address, timeout.Token).ConfigureAwait(false);
                conn = AddConnection(socket, to.Address);
            }
            await conn.SendAsync(bytes).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            _log.LogDebug("SIP send to {To} failed: {Error}", to, ex.Message);
            throw new SipTransportException($"cannot send to {to}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Where a response to a request goes (RFC 3261 §18.2.2, RFC 3581): back over the same TCP connection, or for UDP
    /// to received/rport from the top Via.
    /// </summary>
    public static SipEndPoint ResponseTarget(SipResponse response, SipEndPoint requestSource)
    {
        if (requestSource.Protocol == SipProtocol.Tcp) return requestSource;
        var via = response.TopVia;
        if (via is null) return requestSource;
        var host = via.Parameters.GetValueOrDefault("received") ?? via.Host;
        int port = via.Parameters.TryGetValue("rport", out var rp) && int.TryParse(rp, NumberStyles.None, CultureInfo.InvariantCulture, out var rpn)
            ? rpn
            : via.Port ?? 5060;
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) ? new SipEndPoint(SipProtocol.Udp, new IPEndPoint(ip, port)) : requestSource;
    }

    private async Task ReceiveUdpAsync()
    {
        var buffer = new byte[65_536];
        EndPoint any = new IPEndPoint(_options.Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _udp!.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP errors from earlier sends surface here; they concern one peer only
            }
            var from = new SipEndPoint(SipProtocol.Udp, (IPEndPoint)r.RemoteEndPoint);
            if (r.ReceivedBytes > _options.Limits.MaxMessageBytes)
            {
                Interlocked.Increment(ref _malformed);
                if (_throttle.Allow("oversized SIP datagrams", from.Address.Address)) TransportLog.DatagramTooLarge(_log, r.ReceivedBytes, from);
                continue;
            }
            await DeliverAsync(buffer.AsSpan(0, r.ReceivedBytes).ToArray(), from, datagram: true).ConfigureAwait(false);
        }
    }

    private async Task DeliverAsync(byte[] data, SipEndPoint from, bool datagram)
    {
        var status = SipParser.Parse(data, datagram, _options.Limits, out var message, out _, out var error);
        await DispatchAsync(status, message, error, from).ConfigureAwait(false);
    }

    private async Task DispatchAsync(SipParseStatus status, SipMessage? message, string? error, SipEndPoint from)
    {
        if (status == SipParseStatus.KeepAlive) return;
        if (status == SipParseStatus.Complete) Trace.Received(message!, from);
        if (status != SipParseStatus.Complete)
        {
            Interlocked.Increment(ref _malformed);
            if (_throttle.Allow("malformed SIP messages", from.Address.Address)) TransportLog.Malformed(_log, from, LogText.Escape(error));
            if (message is SipRequest bad && bad.Method != "ACK" && bad.TopVia is not null && bad[SipHeaderNames.CallId] is not null
                && bad[SipHeaderNames.CSeq] is not null && bad[SipHeaderNames.From] is not null && bad[SipHeaderNames.To] is not null)
            {
                int code = error is not null && error.Contains("(505)", StringComparison.Ordinal) ? 505 : 400;
                var reply = SipResponse.For(bad, code, code == 505 ? null : "Bad Request (" + error + ")");
                try
                {
                    // The Via of a message that did not parse is not trusted: the 400 goes back to the address it came
                    // from (RFC 3261 §18.2.2 "received"), never to a sent-by that a spoofed or garbled request names.
                    await SendAsync(reply, from).ConfigureAwait(false);
                }
                catch (SipTransportException)
                {
                }
            }
            return;
        }
        if (message is SipRequest request) StampVia(request, from);
        try
        {
            await _handler!(message!, from).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "SIP handler failed for a message from {From}", from);
        }
    }

    /// <summary>RFC 3261 §18.2.1 and RFC 3581: record where the request really came from.</summary>
    private static void StampVia(SipRequest request, SipEndPoint from)
    {
        int index = request.Headers.FindIndex(h => h.Name == SipHeaderNames.Via);
        var via = ViaHeader.Parse(request.Headers[index].Value)!;
        var source = from.Address.Address.IsIPv4MappedToIPv6 ? from.Address.Address.MapToIPv4() : from.Address.Address;
        bool changed = false;

        // A received= the sender wrote itself would steer our responses to any host (a reflector): only ours counts.
        if (via.Host.Trim('[', ']') != source.ToString() || via.Parameters.ContainsKey("received"))
        {
            via.Parameters["received"] = source.ToString();
            changed = true;
        }
        if (via.Parameters.ContainsKey("rport"))
        {
            via.Parameters["received"] = source.ToString();
            via.Parameters["rport"] = from.Address.Port.ToString(CultureInfo.InvariantCulture);
            changed = true;
        }
        if (changed) request.Headers[index] = new SipHeader(SipHeaderNames.Via, via.ToString());
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            var remote = (IPEndPoint)s.RemoteEndPoint!;
            if (_accepted.TryAcquire(remote.Address) is var refusal and not ConnectionRefusal.None)
            {
                if (_throttle.Allow("refused SIP TCP connections", remote.Address))
                {
                    if (refusal == ConnectionRefusal.SourceFull) TransportLog.TcpSourceFull(_log, remote, _options.MaxTcpConnectionsPerSource);
                    else TransportLog.TcpServerFull(_log, remote, _options.MaxTcpConnections);
                }
                s.Close(0);
                continue;
            }
            s.NoDelay = true;
            AddConnection(s, remote, inbound: true);
        }
    }

    private TcpConnection AddConnection(Socket socket, IPEndPoint remote, bool inbound = false)
    {
        var conn = new TcpConnection(socket, remote, inbound);
        _tcp[remote] = conn;
        _ = ReadTcpAsync(conn);
        return conn;
    }

    private const int InitialTcpBuffer = 4096;

    private async Task ReadTcpAsync(TcpConnection conn)
    {
        // Small until a message needs more: an idle connection must not cost the largest message (128 KiB on the
        // large-object heap each, 256 MiB for MaxTcpConnections idle peers).
        int largest = _options.Limits.MaxMessageBytes * 2;
        var buffer = new byte[Math.Min(InitialTcpBuffer, largest)];
        int filled = 0;
        var from = new SipEndPoint(SipProtocol.Tcp, conn.Remote);
        // A peer that connected to us must prove it speaks SIP soon; only then does it get the long idle time.
        bool awaitingFirst = conn.Inbound;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                if (!awaitingFirst) idle.CancelAfter(_options.TcpIdleTimeout);
                else idle.CancelAfter(TimeSpan.FromTicks(Math.Max(1, (_options.TcpFirstMessageTimeout - conn.SinceAccept.Elapsed).Ticks)));
                int n = await conn.Socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token).ConfigureAwait(false);
                if (n == 0) return;
                filled += n;
                while (filled > 0)
                {
                    var status = SipParser.Parse(buffer.AsSpan(0, filled), datagram: false, _options.Limits, out var message, out var consumed, out var error);
                    if (status == SipParseStatus.Incomplete)
                    {
                        if (filled >= buffer.Length)
                        {
                            if (buffer.Length >= largest)
                            {
                                _log.LogWarning("SIP TCP from {From}: message exceeds {Max} bytes; closing", from, _options.Limits.MaxMessageBytes);
                                return;
                            }
                            Array.Resize(ref buffer, Math.Min(buffer.Length * 2, largest));
                        }
                        break;
                    }
                    if (status == SipParseStatus.Complete) awaitingFirst = false;
                    await DispatchAsync(status, message, error, from).ConfigureAwait(false);
                    if (status == SipParseStatus.Invalid && consumed == 0)
                    {
                        // Framing is lost on a stream: nothing after this point can be trusted.
                        return;
                    }
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                    if (filled == 0 && buffer.Length > InitialTcpBuffer) buffer = new byte[InitialTcpBuffer];
                }
            }
        }
        catch (OperationCanceledException) when (awaitingFirst && !_stop.IsCancellationRequested)
        {
            if (_throttle.Allow("silent SIP TCP connections", conn.Remote.Address)) TransportLog.TcpNoFirstMessage(_log, conn.Remote, _options.TcpFirstMessageTimeout.TotalSeconds);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _tcp.TryRemove(new KeyValuePair<IPEndPoint, TcpConnection>(conn.Remote, conn));
            conn.Socket.Dispose();
            if (conn.Inbound) _accepted.Release(conn.Remote.Address);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Addresses.Dispose();
        _udp?.Dispose();
        _listener?.Dispose();
        foreach (var c in _tcp.Values) c.Socket.Dispose();
        _tcp.Clear();
        _throttle.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class TcpConnection(Socket socket, IPEndPoint remote, bool inbound)
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        public Socket Socket { get; } = socket;

        public IPEndPoint Remote { get; } = remote;

        /// <summary>Accepted from a peer (holds a <see cref="ConnectionLimiter"/> slot), not opened by this side.</summary>
        public bool Inbound { get; } = inbound;

        /// <summary>Runs from accept: the whole first message must arrive within the first-message timeout, however it trickles in.</summary>
        public System.Diagnostics.Stopwatch SinceAccept { get; } = System.Diagnostics.Stopwatch.StartNew();

        public async Task SendAsync(byte[] bytes)
        {
            await _send.WaitAsync().ConfigureAwait(false);
            try
            {
                int sent = 0;
                while (sent < bytes.Length) sent += await Socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
            }
            finally
            {
                _send.Release();
            }
        }
    }
}

/// <summary>A message could not be sent.</summary>
public sealed class SipTransportException(string message, Exception inner) : Exception(message, inner);
