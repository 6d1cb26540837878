using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Transactions;

/// <summary>Server transaction states (RFC 3261 §17.2, with Accepted from RFC 6026).</summary>
public enum ServerTransactionState
{
    /// <summary>non-INVITE: request received, no response yet.</summary>
    Trying,
    /// <summary>A provisional response was sent (INVITE starts here).</summary>
    Proceeding,
    /// <summary>INVITE: a 2xx was sent; it is retransmitted until the ACK arrives (RFC 6026).</summary>
    Accepted,
    /// <summary>A final response was sent; retransmitted requests get it again.</summary>
    Completed,
    /// <summary>INVITE: the ACK for a non-2xx final response arrived.</summary>
    Confirmed,
    /// <summary>Done.</summary>
    Terminated,
}

/// <summary>
/// An INVITE or non-INVITE server transaction (RFC 3261 §17.2.1, §17.2.2): absorbs request retransmissions, resends the
/// last response, retransmits non-2xx finals to INVITE over UDP (Timer G) until ACK or Timer H, and — as the UAS core
/// would — retransmits a 2xx to INVITE until its ACK arrives (RFC 3261 §13.3.1.4).
/// </summary>
public sealed class ServerTransaction
{
    private readonly SipTransactionLayer _layer;
    private readonly object _gate = new();
    private SipResponse? _last;
    private ITimer? _retransmit;
    private ITimer? _timeout;
    private TimeSpan _interval;

    internal ServerTransaction(SipTransactionLayer layer, string key, SipRequest request, SipEndPoint source)
    {
        _layer = layer;
        Key = key;
        Request = request;
        Source = source;
        State = IsInvite ? ServerTransactionState.Proceeding : ServerTransactionState.Trying;
    }

    /// <summary>The transaction key (branch, sent-by, method).</summary>
    public string Key { get; }

    /// <summary>The request that started the transaction.</summary>
    public SipRequest Request { get; }

    /// <summary>Where the request came from.</summary>
    public SipEndPoint Source { get; }

    /// <summary>The current state.</summary>
    public ServerTransactionState State { get; private set; }

    /// <summary>True for an INVITE transaction.</summary>
    public bool IsInvite => Request.Method == "INVITE";

    /// <summary>True once a CANCEL for this INVITE arrived.</summary>
    public bool Cancelled { get; internal set; }

    /// <summary>The final response sent, if any.</summary>
    public SipResponse? FinalResponse { get; private set; }

    /// <summary>Raised (once) when an INVITE's 2xx or non-2xx final was never acknowledged (Timer H / 64*T1).</summary>
    public event Action<ServerTransaction>? AckTimeout;

    /// <summary>Raised when the ACK for a 2xx arrived (the ACK itself also goes to the UAS core).</summary>
    public event Action<ServerTransaction, SipRequest>? Acknowledged;

    private bool Reliable => Source.Protocol.IsReliable();

    /// <summary>Sends a response; a final response moves the state machine on. Responses after a final are ignored.</summary>
    public Task RespondAsync(SipResponse response)
    {
        lock (_gate)
        {
            if (State is ServerTransactionState.Completed or ServerTransactionState.Confirmed or ServerTransactionState.Terminated or ServerTransactionState.Accepted)
                return Task.CompletedTask;
            _last = response;
            var timers = _layer.Timers;
            if (response.StatusCode >= 200)
            {
                FinalResponse = response;
                if (IsInvite && response.StatusCode < 300)
                {
                    State = ServerTransactionState.Accepted;
                    _layer.AwaitAck(this);
                    StartRetransmit(timers.T1);
                    _timeout = _layer.Time.CreateTimer(_ => OnAckTimeout(), null, timers.Timeout64, Timeout.InfiniteTimeSpan); // Timer L
                }
                else if (IsInvite)
                {
                    State = ServerTransactionState.Completed;
                    // Some UAs put a fresh branch on the ACK for a non-2xx; matching by dialog as well stops Timer G for them.
                    _layer.AwaitAck(this);
                    StartRetransmit(timers.T1); // Timer G
                    _timeout = _layer.Time.CreateTimer(_ => OnAckTimeout(), null, timers.Timeout64, Timeout.InfiniteTimeSpan); // Timer H
                }
                else
                {
                    State = ServerTransactionState.Completed;
                    // Timer J: keep answering retransmissions for 64*T1 on UDP.
                    ScheduleTerminate(Reliable ? TimeSpan.Zero : _layer.TimerJ);
                }
            }
            else if (State == ServerTransactionState.Trying)
            {
                State = ServerTransactionState.Proceeding;
            }
        }
        return _layer.SendResponseAsync(response, Source);
    }

    /// <summary>Sends a response built from the request.</summary>
    public Task RespondAsync(int code, string? reason = null, string? toTag = null) =>
        RespondAsync(SipResponse.For(Request, code, reason, toTag));

    internal void OnRetransmittedRequest()
    {
        _layer.CountAbsorbed();
        SipResponse? last;
        lock (_gate) last = _last;
        if (last is not null) _ = _layer.SendResponseAsync(last, Source);
    }

    internal void OnAck(SipRequest ack)
    {
        lock (_gate)
        {
            if (State == ServerTransactionState.Completed)
            {
                StopTimers();
                if (Reliable)
                {
                    Terminate(); // Timer I is zero on a reliable transport
                    return;
                }
                // Timer I starts before the state shows Confirmed, so whoever sees Confirmed also sees the timer running.
                ScheduleTerminate(_layer.Timers.T4);
                State = ServerTransactionState.Confirmed;
                return;
            }
            if (State != ServerTransactionState.Accepted) return;
            StopTimers();
            State = ServerTransactionState.Terminated;
        }
        _layer.Remove(this);
        Acknowledged?.Invoke(this, ack);
    }

    private void StartRetransmit(TimeSpan first)
    {
        if (Reliable) return;
        _interval = first;
        _retransmit = _layer.Time.CreateTimer(_ => Retransmit(), null, first, Timeout.InfiniteTimeSpan);
    }

    private void Retransmit()
    {
        SipResponse? last;
        lock (_gate)
        {
            if (State is not (ServerTransactionState.Completed or ServerTransactionState.Accepted)) return;
            last = _last;
            _interval = _interval * 2 < _layer.Timers.T2 ? _interval * 2 : _layer.Timers.T2;
            _retransmit?.Change(_interval, Timeout.InfiniteTimeSpan);
        }
        if (last is null) return;
        _layer.CountResponseRetransmission();
        _ = _layer.SendResponseAsync(last, Source);
    }

    private void OnAckTimeout()
    {
        lock (_gate)
        {
            if (State is not (ServerTransactionState.Completed or ServerTransactionState.Accepted)) return;
            StopTimers();
            State = ServerTransactionState.Terminated;
        }
        TransportLog.NoAck(_layer.Log, FinalResponse?.StatusCode, LogText.Escape(Request.CallId), Source);
        _layer.Remove(this);
        AckTimeout?.Invoke(this);
    }

    private void ScheduleTerminate(TimeSpan after)
    {
        if (after <= TimeSpan.Zero)
        {
            Terminate();
            return;
        }
        _timeout = _layer.Time.CreateTimer(_ => Terminate(), null, after, Timeout.InfiniteTimeSpan);
    }

    private void Terminate()
    {
        lock (_gate)
        {
            StopTimers();
            State = ServerTransactionState.Terminated;
        }
        _layer.Remove(this);
    }

    private void StopTimers()
    {
        _retransmit?.Dispose();
        _retransmit = null;
        _timeout?.Dispose();
        _timeout = null;
    }
}
