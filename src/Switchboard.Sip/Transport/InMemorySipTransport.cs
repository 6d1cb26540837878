using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Transport;

/// <summary>
/// A network of datagram endpoints inside one process, for tests and benchmarks: what one endpoint sends to another's
/// address arrives there as the same bytes, with the sender's address as source, as over UDP on loopback. Nothing is
/// reordered; a datagram to an address nobody has bound is lost (as UDP would lose it), and so is one that finds the
/// receiver's queue full (<see cref="InMemoryDatagramSocket.QueueLimit"/>; counted in
/// <see cref="InMemoryDatagramSocket.Dropped"/>).
/// </summary>
public sealed class InMemorySipNetwork
{
    private readonly ConcurrentDictionary<IPEndPoint, InMemoryDatagramSocket> _bound = new();
    private int _nextPort = 20_000;

    /// <summary>Binds an endpoint; port 0 takes the next free one.</summary>
    public InMemoryDatagramSocket Bind(IPEndPoint address)
    {
        while (true)
        {
            var at = address.Port != 0 ? address : new IPEndPoint(address.Address, Interlocked.Increment(ref _nextPort));
            var socket = new InMemoryDatagramSocket(this, at);
            if (_bound.TryAdd(at, socket)) return socket;
            if (address.Port != 0) throw new InvalidOperationException($"{at} is already bound on this in-memory network");
        }
    }

    /// <summary>Binds an endpoint at <paramref name="address"/>:<paramref name="port"/>.</summary>
    public InMemoryDatagramSocket Bind(string address, int port = 0) => Bind(new IPEndPoint(IPAddress.Parse(address), port));

    internal bool Deliver(IPEndPoint from, IPEndPoint to, byte[] datagram) =>
        _bound.TryGetValue(to, out var target) && target.Enqueue(datagram, from);

    internal void Unbind(InMemoryDatagramSocket socket) => _bound.TryRemove(new KeyValuePair<IPEndPoint, InMemoryDatagramSocket>(socket.LocalEndPoint, socket));
}

/// <summary>One endpoint of an <see cref="InMemorySipNetwork"/>: a UDP socket without the kernel.</summary>
public sealed class InMemoryDatagramSocket : IDisposable
{
    /// <summary>Datagrams waiting to be read before new ones are dropped (a full socket buffer).</summary>
    public const int QueueLimit = 4_096;

    private readonly InMemorySipNetwork _network;
    private readonly Channel<(byte[] Datagram, IPEndPoint From)> _inbox =
        Channel.CreateBounded<(byte[], IPEndPoint)>(new BoundedChannelOptions(QueueLimit) { FullMode = BoundedChannelFullMode.Wait });
    private long _dropped;

    internal InMemoryDatagramSocket(InMemorySipNetwork network, IPEndPoint local)
    {
        _network = network;
        LocalEndPoint = local;
    }

    /// <summary>The address this endpoint is bound to.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Datagrams lost because this endpoint's queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Sends a copy of <paramref name="datagram"/>; false when nobody is bound at <paramref name="to"/> or its queue is full.</summary>
    public bool SendTo(ReadOnlySpan<byte> datagram, IPEndPoint to) => _network.Deliver(LocalEndPoint, to, datagram.ToArray());

    /// <summary>The next datagram and its source; throws <see cref="OperationCanceledException"/> when cancelled or closed.</summary>
    public async ValueTask<(byte[] Datagram, IPEndPoint From)> ReceiveFromAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inbox.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new OperationCanceledException("the in-memory socket is closed", ex);
        }
    }

    internal bool Enqueue(byte[] datagram, IPEndPoint from)
    {
        if (_inbox.Writer.TryWrite((datagram, from))) return true;
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>Unbinds the endpoint; a pending receive ends.</summary>
    public void Dispose()
    {
        _network.Unbind(this);
        _inbox.Writer.TryComplete();
    }
}

/// <summary>
/// <see cref="ISipTransport"/> over an <see cref="InMemorySipNetwork"/>: the switch's messages are written to bytes and
/// parsed again on the other side exactly as over UDP (same parser, same limits, same received/rport stamping, RFC 3581),
/// so a test sees the wire text, without sockets or ports. Every peer counts as UDP. A malformed datagram is counted
/// and dropped (the socket transport would answer a parseable one with 400).
/// </summary>
public sealed class InMemorySipTransport : ISipTransport
{
    private readonly InMemoryDatagramSocket _socket;
    private readonly SipParserLimits _limits;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _receiving = Task.CompletedTask;
    private long _malformed;

    /// <summary>Binds <paramref name="address"/> (port 0: the next free one) on <paramref name="network"/>.</summary>
    public InMemorySipTransport(InMemorySipNetwork network, IPEndPoint address, SipParserLimits? limits = null, ILogger? log = null)
    {
        _socket = network.Bind(address);
        _limits = limits ?? SipParserLimits.Default;
        _log = log ?? NullLogger.Instance;
        Addresses = new LocalAddressSelector(address.Address);
        Trace = new SipMessageTrace(_log);
    }

    /// <inheritdoc />
    public LocalAddressSelector Addresses { get; }

    /// <inheritdoc />
    public IPEndPoint LocalEndPoint => _socket.LocalEndPoint;

    /// <inheritdoc />
    public SipMessageTrace Trace { get; }

    /// <inheritdoc />
    public long MalformedCount => Interlocked.Read(ref _malformed);

    /// <summary>Datagrams lost because this transport's queue was full.</summary>
    public long Dropped => _socket.Dropped;

    /// <inheritdoc />
    public void Start(Func<SipMessage, SipEndPoint, Task> handler) => _receiving = ReceiveAsync(handler);

    /// <inheritdoc />
    public Task SendAsync(SipMessage message, SipEndPoint to)
    {
        // Lost datagrams are not errors on UDP either: retransmission (RFC 3261 §17) is what copes with them.
        _socket.SendTo(message.ToBytes(), to.Address);
        return Task.CompletedTask;
    }

    private async Task ReceiveAsync(Func<SipMessage, SipEndPoint, Task> handler)
    {
        while (true)
        {
            byte[] datagram;
            IPEndPoint source;
            try
            {
                (datagram, source) = await _socket.ReceiveFromAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var from = new SipEndPoint(SipProtocol.Udp, source);
            SipMessage? message = null;
            var status = datagram.Length > _limits.MaxMessageBytes
                ? SipParseStatus.Invalid
                : SipParser.Parse(datagram, true, _limits, out message, out _, out _);
            if (status == SipParseStatus.KeepAlive) continue;
            if (status != SipParseStatus.Complete || message is null)
            {
                Interlocked.Increment(ref _malformed);
                continue;
            }
            if (message is SipRequest request) SipTransport.StampVia(request, from);
            try
            {
                await handler(message, from).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                InMemoryTransportLog.HandlerFailed(_log, ex, from);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiving.ConfigureAwait(false);
        _stop.Dispose();
    }
}

internal static partial class InMemoryTransportLog
{
    [LoggerMessage(EventId = 6290, Level = LogLevel.Error, Message = "SIP handler failed for a message from {From} (in-memory transport)")]
    public static partial void HandlerFailed(ILogger log, Exception error, SipEndPoint from);
}
