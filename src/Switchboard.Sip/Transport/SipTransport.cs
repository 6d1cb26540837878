using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
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
    /// <summary>TLS over TCP (RFC 3261 §26.2.1, RFC 5630): the TCP framing inside a TLS 1.2+ session.</summary>
    Tls,
}

/// <summary>Helpers on <see cref="SipProtocol"/>.</summary>
public static class SipProtocols
{
    /// <summary>True for the stream transports (TCP, TLS): no retransmissions, responses go back over the connection.</summary>
    public static bool IsReliable(this SipProtocol protocol) => protocol != SipProtocol.Udp;
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

    /// <summary>Port for SIP over TLS; 0 = any, -1 = no TLS listener (TLS towards trunks still works).</summary>
    public int TlsPort { get; set; } = -1;

    /// <summary>The server certificate with its private key; required when <see cref="TlsPort"/> is not -1.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; set; }

    /// <summary>A TLS handshake (either direction) that has not completed within this time is abandoned.</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The server's public address when it sits behind NAT (written towards peers outside <see cref="LocalNetworks"/>); null for none.</summary>
    public IPAddress? AdvertisedAddress { get; set; }

    /// <summary>Networks whose peers are answered with the local address even when <see cref="AdvertisedAddress"/> is set.</summary>
    public IReadOnlyList<IPNetwork> LocalNetworks { get; set; } = [];
}

/// <summary>
/// SIP over UDP, TCP and TLS (RFC 3261 §18, §26): receives and parses messages, stamps <c>received</c>/<c>rport</c>
/// (RFC 3581) on requests, sends responses back the way the request came, answers malformed requests with 400 and a
/// reason, and reuses stream connections in both directions: a phone that registered over TCP or TLS is reached over
/// that same connection (its flow, RFC 5626 §3), since behind NAT nothing else reaches it.
/// </summary>
public sealed class SipTransport : ISipTransport
{
    private readonly SipTransportOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<SipEndPoint, StreamConnection> _streams = new();
    private readonly ConcurrentDictionary<IPEndPoint, SipTlsPeer> _tlsPeers = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _udp;
    private Socket? _listener;
    private Socket? _tlsListener;
    private Func<SipMessage, SipEndPoint, Task>? _handler;
    private readonly ConnectionLimiter _accepted;
    private readonly LogThrottle _throttle;

    /// <summary>Creates the transport; call <see cref="Start"/>.</summary>
    public SipTransport(SipTransportOptions options, ILogger? log = null)
    {
        _options = options;
        _log = log ?? NullLogger.Instance;
        if (options.TlsPort != -1 && options.TlsCertificate is not { HasPrivateKey: true })
            throw new ArgumentException("a TLS listener needs a certificate with its private key", nameof(options));
        _accepted = new ConnectionLimiter(options.MaxTcpConnections, options.MaxTcpConnectionsPerSource);
        _throttle = new LogThrottle(_log);
        Addresses = new LocalAddressSelector(options.Address, options.AdvertisedAddress, options.LocalNetworks);
        Trace = new SipMessageTrace(_log);
    }

    /// <summary>The per-device message trace (<c>switchboard ctl sip-trace on EXT</c>), off until switched on.</summary>
    public SipMessageTrace Trace { get; }

    /// <summary>Accepted TCP and TLS connections currently open (connections this side opened are not counted).</summary>
    public int AcceptedTcpConnections => _accepted.Count;

    /// <summary>Which local address to write towards each peer (Via, Contact, SDP).</summary>
    public LocalAddressSelector Addresses { get; }

    /// <summary>The bound UDP endpoint.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_udp!.LocalEndPoint!;

    /// <summary>The bound TLS endpoint, or null without a TLS listener.</summary>
    public IPEndPoint? TlsLocalEndPoint => (IPEndPoint?)_tlsListener?.LocalEndPoint;

    /// <summary>The local port peers reach this transport at for <paramref name="protocol"/> (Via sent-by, Contact).</summary>
    public int PortFor(SipProtocol protocol) => protocol == SipProtocol.Tls && TlsLocalEndPoint is { } tls ? tls.Port : LocalEndPoint.Port;

    /// <summary>Messages received that were malformed (answered with 400 or dropped).</summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);

    /// <summary>TLS handshakes that failed (plaintext on the TLS port, garbage, a certificate that did not verify).</summary>
    public long FailedTlsHandshakes => Interlocked.Read(ref _failedHandshakes);

    private long _malformed;
    private long _failedHandshakes;

    /// <summary>
    /// How connections this side opens over TLS to <paramref name="peer"/> check the server's certificate (a trunk).
    /// Without an entry the name checked is the peer's IP address against the system store.
    /// </summary>
    public void SetTlsPeer(IPEndPoint peer, SipTlsPeer policy) => _tlsPeers[peer] = policy;

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
        if (_options.TlsPort != -1)
        {
            var tls = new Socket(_options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tls.Bind(new IPEndPoint(_options.Address, _options.TlsPort));
                tls.Listen(512);
            }
            catch
            {
                tls.Dispose();
                _udp?.Dispose();
                _listener?.Dispose();
                throw;
            }
            _tlsListener = tls;
        }
        _ = ReceiveUdpAsync();
        if (_listener is not null) _ = AcceptAsync(_listener, SipProtocol.Tcp);
        if (_tlsListener is not null) _ = AcceptAsync(_tlsListener, SipProtocol.Tls);
    }

    /// <summary>Sends a message to a transport address (over an existing TCP or TLS connection when there is one).</summary>
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
            if (!_streams.TryGetValue(to, out var conn)) conn = await ConnectAsync(to).ConfigureAwait(false);
            await conn.SendAsync(bytes).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException
            or System.Security.Authentication.AuthenticationException)
        {
            TransportLog.SendFailed(_log, to, ex.Message);
            throw new SipTransportException($"cannot send to {to}: {ex.Message}", ex);
        }
    }

    private async Task<StreamConnection> ConnectAsync(SipEndPoint to)
    {
        var socket = new Socket(to.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(to.Address, timeout.Token).ConfigureAwait(false);
            if (to.Protocol == SipProtocol.Tcp) return AddConnection(new NetworkStream(socket, ownsSocket: true), to, inbound: false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var policy = _tlsPeers.GetValueOrDefault(to.Address) ?? new SipTlsPeer(to.Address.Address.ToString());
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        string? rejection = null;
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            handshake.CancelAfter(_options.TlsHandshakeTimeout);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = policy.TargetHost,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, cert, _, errors) => (rejection = SipTlsCertificates.Verify(policy, cert, errors)) is null,
            }, handshake.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var reason = rejection ?? (ex is OperationCanceledException ? "handshake timed out" : ex.Message);
            if (_throttle.Allow("failed SIP TLS handshakes", to.Address.Address)) TransportLog.TlsServerRejected(_log, to.Address, policy.TargetHost, LogText.Escape(reason));
            Interlocked.Increment(ref _failedHandshakes);
            throw new SipTransportException($"TLS to {to} ({policy.TargetHost}) refused: {reason}", ex);
        }
        if (!policy.Verify && _throttle.Allow("unverified SIP TLS servers", to.Address.Address)) TransportLog.TlsUnverified(_log, to.Address, policy.TargetHost);
        return AddConnection(ssl, to, inbound: false);
    }

    /// <summary>
    /// Where a response to a request goes (RFC 3261 §18.2.2, RFC 3581): back over the same TCP or TLS connection, or for
    /// UDP to received/rport from the top Via.
    /// </summary>
    public static SipEndPoint ResponseTarget(SipResponse response, SipEndPoint requestSource)
    {
        if (requestSource.Protocol.IsReliable()) return requestSource;
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
            TransportLog.HandlerFailed(_log, ex, from);
        }
    }

    /// <summary>RFC 3261 §18.2.1 and RFC 3581: record where the request really came from.</summary>
    internal static void StampVia(SipRequest request, SipEndPoint from)
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

    private async Task AcceptAsync(Socket listener, SipProtocol protocol)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
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
            // TCP and TLS share one budget: both hold a socket and a buffer, and a flood on either port must not
            // lock the phones on the other out beyond the same total.
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
            if (protocol == SipProtocol.Tcp) AddConnection(new NetworkStream(s, ownsSocket: true), new SipEndPoint(SipProtocol.Tcp, remote), inbound: true);
            else _ = AcceptTlsAsync(s, remote);
        }
    }

    /// <summary>The server side of a TLS handshake, off the accept loop so one slow or silent client delays nobody else.</summary>
    private async Task AcceptTlsAsync(Socket socket, IPEndPoint remote)
    {
        var since = System.Diagnostics.Stopwatch.StartNew();
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        handshake.CancelAfter(_options.TlsHandshakeTimeout < _options.TcpFirstMessageTimeout ? _options.TlsHandshakeTimeout : _options.TcpFirstMessageTimeout);
        var reason = TlsRejection.BadHandshake;
        try
        {
            // A TLS client speaks first with a handshake record (content type 22, RFC 8446 §5.1). Anything else is
            // plaintext SIP, HTTP or a scanner: named as such in the log instead of as an OpenSSL error string.
            var first = new byte[1];
            int peeked = await socket.ReceiveAsync(first, SocketFlags.Peek, handshake.Token).ConfigureAwait(false);
            if (peeked == 0) reason = TlsRejection.Closed;
            else if (first[0] != 22) reason = TlsRejection.NotTls;
            if (reason != TlsRejection.BadHandshake) throw new IOException(reason == TlsRejection.NotTls ? $"first byte 0x{first[0]:x2} is no TLS handshake record" : "closed before the handshake");
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _options.TlsCertificate,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, handshake.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException
            or ObjectDisposedException or SocketException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            _accepted.Release(remote.Address);
            if (_stop.IsCancellationRequested) return;
            if (ex is OperationCanceledException) reason = TlsRejection.HandshakeTimeout;
            if (_throttle.Allow("failed SIP TLS handshakes", remote.Address)) TransportLog.TlsHandshakeFailed(_log, remote, reason, LogText.Escape(ex.Message));
            Interlocked.Increment(ref _failedHandshakes);
            return;
        }
        AddConnection(ssl, new SipEndPoint(SipProtocol.Tls, remote), inbound: true, since);
    }

    private StreamConnection AddConnection(Stream stream, SipEndPoint remote, bool inbound, System.Diagnostics.Stopwatch? since = null)
    {
        var conn = new StreamConnection(stream, remote, inbound, since ?? System.Diagnostics.Stopwatch.StartNew());
        // A second connection from the same address and port replaces the first for sending; the first still reads
        // until it closes, and its removal below only removes itself.
        _streams[remote] = conn;
        _ = ReadStreamAsync(conn);
        return conn;
    }

    private const int InitialTcpBuffer = 4096;

    private async Task ReadStreamAsync(StreamConnection conn)
    {
        // Small until a message needs more: an idle connection must not cost the largest message (128 KiB on the
        // large-object heap each, 256 MiB for MaxTcpConnections idle peers).
        int largest = _options.Limits.MaxMessageBytes * 2;
        var buffer = new byte[Math.Min(InitialTcpBuffer, largest)];
        int filled = 0;
        var from = conn.Remote;
        // A peer that connected to us must prove it speaks SIP soon; only then does it get the long idle time.
        bool awaitingFirst = conn.Inbound;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                if (!awaitingFirst) idle.CancelAfter(_options.TcpIdleTimeout);
                else idle.CancelAfter(TimeSpan.FromTicks(Math.Max(1, (_options.TcpFirstMessageTimeout - conn.SinceAccept.Elapsed).Ticks)));
                int n = await conn.Stream.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
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
                                TransportLog.StreamMessageTooLarge(_log, from, _options.Limits.MaxMessageBytes);
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
            if (_throttle.Allow("silent SIP TCP connections", conn.Remote.Address.Address)) TransportLog.TcpNoFirstMessage(_log, conn.Remote.Address, _options.TcpFirstMessageTimeout.TotalSeconds);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            _streams.TryRemove(new KeyValuePair<SipEndPoint, StreamConnection>(conn.Remote, conn));
            await conn.Stream.DisposeAsync().ConfigureAwait(false);
            if (conn.Inbound) _accepted.Release(conn.Remote.Address.Address);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Addresses.Dispose();
        _udp?.Dispose();
        _listener?.Dispose();
        _tlsListener?.Dispose();
        foreach (var c in _streams.Values) await c.Stream.DisposeAsync().ConfigureAwait(false);
        _streams.Clear();
        _throttle.Dispose();
    }

    private sealed class StreamConnection(Stream stream, SipEndPoint remote, bool inbound, System.Diagnostics.Stopwatch since)
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        /// <summary>The socket's stream, or the TLS session over it.</summary>
        public Stream Stream { get; } = stream;

        public SipEndPoint Remote { get; } = remote;

        /// <summary>Accepted from a peer (holds a <see cref="ConnectionLimiter"/> slot), not opened by this side.</summary>
        public bool Inbound { get; } = inbound;

        /// <summary>Runs from accept: handshake and the whole first message must arrive within the first-message timeout, however it trickles in.</summary>
        public System.Diagnostics.Stopwatch SinceAccept { get; } = since;

        public async Task SendAsync(byte[] bytes)
        {
            await _send.WaitAsync().ConfigureAwait(false);
            try
            {
                await Stream.WriteAsync(bytes).ConfigureAwait(false);
                await Stream.FlushAsync().ConfigureAwait(false);
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
