using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Diagnostics;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Transactions;

/// <summary>What the transaction layer hands up to the transaction user (a UA core, registrar, B2BUA).</summary>
public interface ISipTransactionUser
{
    /// <summary>A new request (not ACK, not a retransmission) arrived in a new server transaction. CANCEL is answered by the layer.</summary>
    Task OnRequestAsync(ServerTransaction transaction);

    /// <summary>An ACK that matched no server transaction (the ACK for a 2xx, RFC 3261 §17.2.1), or one that ended an Accepted transaction.</summary>
    Task OnAckAsync(SipRequest ack, SipEndPoint source);

    /// <summary>An INVITE was cancelled by the peer; the layer already answered the CANCEL with 200. The TU must answer the INVITE (487).</summary>
    Task OnCancelledAsync(ServerTransaction invite);

    /// <summary>A 2xx to INVITE that matched no client transaction (a retransmission after the transaction ended).</summary>
    Task OnStrayResponseAsync(SipResponse response, SipEndPoint source);
}

/// <summary>
/// The transaction layer (RFC 3261 §17): matches incoming requests and responses to transactions (§17.1.3, §17.2.3),
/// creates client transactions with a fresh RFC 3261 branch, and answers CANCEL (§9.2).
/// </summary>
public sealed class SipTransactionLayer : IAsyncDisposable
{
    /// <summary>The RFC 3261 magic cookie that starts every branch.</summary>
    public const string BranchCookie = "z9hG4bK";

    private readonly ConcurrentDictionary<string, ServerTransaction> _servers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClientTransaction> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ServerTransaction> _awaitingAck = new(StringComparer.Ordinal);
    private ISipTransactionUser? _user;
    private long _retransmissions;
    private long _responseRetransmissions;
    private long _absorbed;
    private long _refusedForLoad;
    private readonly LogThrottle _throttle;

    /// <summary>Creates the layer over a transport (not yet started).</summary>
    public SipTransactionLayer(ISipTransport transport, SipTimers? timers = null, TimeProvider? time = null, ILogger? log = null)
    {
        Transport = transport;
        Timers = timers ?? SipTimers.Default;
        Time = time ?? TimeProvider.System;
        Log = log ?? NullLogger.Instance;
        _throttle = new LogThrottle(Log);
    }

    /// <summary>
    /// Most live server transactions. A new request beyond it is answered 503 with Retry-After without creating one,
    /// so a request flood costs a response, not memory kept for Timer J; past three quarters of it, completed
    /// non-INVITE transactions over UDP are kept for T4 instead of 64*T1.
    /// </summary>
    public int MaxServerTransactions { get; init; } = 32_768;

    /// <summary>Seconds a 503 for load asks the peer to wait (Retry-After).</summary>
    public int RetryAfterSeconds { get; init; } = 5;

    /// <summary>New requests answered 503 because <see cref="MaxServerTransactions"/> were live.</summary>
    public long RefusedForLoad => Interlocked.Read(ref _refusedForLoad);

    /// <summary>Timer J: 64*T1, or T4 while the server transaction table is over three quarters full.</summary>
    internal TimeSpan TimerJ => _servers.Count > MaxServerTransactions / 4 * 3 ? Timers.T4 : Timers.Timeout64;

    /// <summary>The transport.</summary>
    public ISipTransport Transport { get; }

    /// <summary>Timer values.</summary>
    public SipTimers Timers { get; }

    /// <summary>The clock for the timers.</summary>
    public TimeProvider Time { get; }

    internal ILogger Log { get; }

    /// <summary>Live server transactions.</summary>
    public int ServerCount => _servers.Count;

    /// <summary>Live client transactions.</summary>
    public int ClientCount => _clients.Count;

    /// <summary>Requests retransmitted by client transactions so far.</summary>
    public long Retransmissions => Interlocked.Read(ref _retransmissions);

    /// <summary>Final responses retransmitted by server transactions over UDP so far (Timer G, and 2xx until the ACK).</summary>
    public long ResponseRetransmissions => Interlocked.Read(ref _responseRetransmissions);

    /// <summary>Retransmitted requests absorbed by an existing server transaction (not handed to the transaction user).</summary>
    public long AbsorbedRequests => Interlocked.Read(ref _absorbed);

    /// <summary>Starts the transport and delivers to <paramref name="user"/>.</summary>
    public void Start(ISipTransactionUser user)
    {
        _user = user;
        Transport.Start(OnMessageAsync);
    }

    /// <summary>A new random branch with the RFC 3261 cookie.</summary>
    public static string NewBranch() => BranchCookie + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    /// <summary>A new random tag or Call-ID part.</summary>
    public static string NewToken(int bytes = 8) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>
    /// Sends a request in a new client transaction. A Via with this host's address and a fresh branch is put on top
    /// (unless <paramref name="keepVia"/>, as CANCEL needs the INVITE's Via).
    /// </summary>
    /// <param name="request">The request; a Via is added.</param>
    /// <param name="destination">Where it goes.</param>
    /// <param name="attach">
    /// Subscribes to the transaction's events before the request leaves: a fast peer's 180 can otherwise arrive
    /// before a handler attached after this method returns.
    /// </param>
    public ClientTransaction Send(SipRequest request, SipEndPoint destination, Action<ClientTransaction>? attach = null)
    {
        var txn = CreateClient(request, destination, keepVia: false);
        attach?.Invoke(txn);
        _ = txn.StartAsync();
        return txn;
    }

    /// <summary>Sends an ACK for a 2xx (end to end, outside any transaction).</summary>
    public async Task SendAckAsync(SipRequest ack, SipEndPoint destination)
    {
        // The same ACK is sent again for each retransmitted 2xx, possibly from two threads at once: one Via only.
        lock (ack)
        {
            if (ack[SipHeaderNames.Via] is null) ack.Headers.Insert(0, new SipHeader(SipHeaderNames.Via, LocalVia(destination)));
        }
        try
        {
            await Transport.SendAsync(ack, destination).ConfigureAwait(false);
        }
        catch (SipTransportException ex)
        {
            TransportLog.AckSendFailed(Log, destination, ex.Message);
        }
    }

    /// <summary>
    /// The Via this host puts on a request to <paramref name="destination"/>: its sent-by is the address that peer can
    /// answer to (never the wildcard the socket is bound to), so responses come back even without rport.
    /// </summary>
    public string LocalVia(SipEndPoint destination)
    {
        var host = SentBy(destination.Address.Address);
        return $"SIP/2.0/{destination.Protocol.ToString().ToUpperInvariant()} {host}:{Transport.PortFor(destination.Protocol)};branch={NewBranch()};rport";
    }

    /// <summary>The host part (IPv6 in brackets) this host writes towards <paramref name="peer"/>.</summary>
    public string SentBy(System.Net.IPAddress peer)
    {
        var a = Transport.Addresses.For(peer);
        return a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString();
    }

    internal ClientTransaction CreateClient(SipRequest request, SipEndPoint destination, bool keepVia)
    {
        if (!keepVia) request.Headers.Insert(0, new SipHeader(SipHeaderNames.Via, LocalVia(destination)));
        var branch = request.TopVia!.Branch!;
        var txn = new ClientTransaction(this, branch + "|" + request.Method, request, destination);
        _clients[txn.Key] = txn;
        return txn;
    }

    internal Task SendResponseAsync(SipResponse response, SipEndPoint requestSource) =>
        SendQuietly(response, SipTransport.ResponseTarget(response, requestSource));

    internal void AwaitAck(ServerTransaction txn) => _awaitingAck[DialogAckKey(txn.Request)] = txn;

    internal void Remove(ServerTransaction txn)
    {
        _servers.TryRemove(new KeyValuePair<string, ServerTransaction>(txn.Key, txn));
        _awaitingAck.TryRemove(new KeyValuePair<string, ServerTransaction>(DialogAckKey(txn.Request), txn));
    }

    internal void Remove(ClientTransaction txn) => _clients.TryRemove(new KeyValuePair<string, ClientTransaction>(txn.Key, txn));

    internal void CountRetransmission() => Interlocked.Increment(ref _retransmissions);

    internal void CountResponseRetransmission() => Interlocked.Increment(ref _responseRetransmissions);

    internal void CountAbsorbed() => Interlocked.Increment(ref _absorbed);

    private async Task OnMessageAsync(SipMessage message, SipEndPoint source)
    {
        if (message is SipResponse response)
        {
            var via = response.TopVia;
            var key = via?.Branch + "|" + response.CSeq.Method;
            if (via?.Branch is not null && _clients.TryGetValue(key, out var client))
            {
                client.OnResponse(response);
                return;
            }
            if (response.StatusCode is >= 200 and < 300 && response.CSeq.Method == "INVITE")
                Hand(() => _user!.OnStrayResponseAsync(response, source));
            return;
        }

        var request = (SipRequest)message;
        var serverKey = ServerKey(request, request.Method == "ACK" ? "INVITE" : request.Method);
        if (request.Method == "ACK")
        {
            if (_servers.TryGetValue(serverKey, out var invite) && invite.State != ServerTransactionState.Accepted)
            {
                invite.OnAck(request);
                return;
            }
            if (_awaitingAck.TryGetValue(DialogAckKey(request), out var waiting))
            {
                bool forNon2xx = waiting.State is ServerTransactionState.Completed or ServerTransactionState.Confirmed;
                waiting.OnAck(request);
                if (forNon2xx) return;
            }
            Hand(() => _user!.OnAckAsync(request, source));
            return;
        }
        if (_servers.TryGetValue(serverKey, out var existing))
        {
            existing.OnRetransmittedRequest();
            return;
        }
        if (_servers.Count >= MaxServerTransactions)
        {
            await RefuseForLoadAsync(request, source).ConfigureAwait(false);
            return;
        }
        var txn = new ServerTransaction(this, serverKey, request, source);
        if (!_servers.TryAdd(serverKey, txn))
        {
            _servers[serverKey].OnRetransmittedRequest();
            return;
        }
        if (request.Method == "CANCEL")
        {
            // RFC 3261 §9.2: the CANCEL matches the INVITE with the same branch; answer it here, tell the TU.
            if (_servers.TryGetValue(ServerKey(request, "INVITE"), out var target) && target.State == ServerTransactionState.Proceeding)
            {
                target.Cancelled = true;
                await txn.RespondAsync(200).ConfigureAwait(false);
                Hand(() => _user!.OnCancelledAsync(target));
            }
            else
            {
                await txn.RespondAsync(481).ConfigureAwait(false);
            }
            return;
        }
        if (request.Method == "INVITE")
        {
            // Stop the peer's INVITE retransmissions at once (RFC 3261 §17.2.1: 100 within 200 ms).
            await txn.RespondAsync(100).ConfigureAwait(false);
        }
        Hand(() => _user!.OnRequestAsync(txn));
    }

    /// <summary>Stateless 503 (RFC 3261 §21.5.4): nothing is kept, so the flood that filled the table cannot grow it.</summary>
    private Task RefuseForLoadAsync(SipRequest request, SipEndPoint source)
    {
        Interlocked.Increment(ref _refusedForLoad);
        if (_throttle.Allow("requests refused with 503 (server transaction table full)", source.Address.Address))
            TransactionLog.RefusedForLoad(Log, LogText.Escape(request.Method), source, MaxServerTransactions);
        var busy = SipResponse.For(request, 503, "Service Unavailable");
        busy.Add("Retry-After", RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return SendResponseAsync(busy, source);
    }

    /// <summary>
    /// Runs a transaction-user callback without holding up the receive loop: a TU that waits for another response
    /// (a B2BUA relaying a re-INVITE) would otherwise wait for a message that this very loop has to read.
    /// </summary>
    private void Hand(Func<Task> callback)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await callback().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                TransportLog.TransactionUserFailed(Log, ex);
            }
        });
    }

    /// <summary>§17.2.3: branch + sent-by + method (RFC 3261 branches only; older peers fall back to Call-ID/CSeq/From-tag).</summary>
    private static string ServerKey(SipRequest request, string method)
    {
        var via = request.TopVia!;
        if (via.Branch is { } b && b.StartsWith(BranchCookie, StringComparison.Ordinal))
            return $"{b}|{via.Host}:{via.Port}|{method}";
        return $"legacy|{request.CallId}|{request.CSeq.Number}|{request.From.Tag}|{method}";
    }

    private static string DialogAckKey(SipRequest request) => $"{request.CallId}|{request.CSeq.Number}|{request.From.Tag}";

    private async Task SendQuietly(SipMessage message, SipEndPoint to)
    {
        try
        {
            await Transport.SendAsync(message, to).ConfigureAwait(false);
        }
        catch (SipTransportException ex)
        {
            TransportLog.SendFailed(Log, to, ex.Message);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _throttle.Dispose();
        return Transport.DisposeAsync();
    }
}

/// <summary>Log lines of the transaction layer with stable event IDs (5101–5119).</summary>
internal static partial class TransactionLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "SIP: 503 to {Method} from {From}: {Max} server transactions live")]
    public static partial void RefusedForLoad(ILogger log, string method, SipEndPoint from, int max);
}
