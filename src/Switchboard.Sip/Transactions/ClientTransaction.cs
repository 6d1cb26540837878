using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Transactions;

/// <summary>Client transaction states (RFC 3261 §17.1, with Accepted from RFC 6026).</summary>
public enum ClientTransactionState
{
    /// <summary>INVITE sent, no response yet.</summary>
    Calling,
    /// <summary>non-INVITE sent, no response yet.</summary>
    Trying,
    /// <summary>A provisional response arrived.</summary>
    Proceeding,
    /// <summary>INVITE: a 2xx arrived; further 2xx (other forks, retransmissions) still go to the TU (RFC 6026 Timer M).</summary>
    Accepted,
    /// <summary>A final response arrived; retransmissions of it are absorbed (and ACKed for INVITE).</summary>
    Completed,
    /// <summary>Done.</summary>
    Terminated,
}

/// <summary>
/// An INVITE or non-INVITE client transaction (RFC 3261 §17.1.1, §17.1.2): retransmits the request over UDP (Timer A /
/// Timer E), gives up after 64*T1 (Timer B / Timer F) with a synthesized 408, ACKs non-2xx finals itself and absorbs
/// their retransmissions (Timer D / Timer K).
/// </summary>
public sealed class ClientTransaction
{
    private readonly SipTransactionLayer _layer;
    private readonly object _gate = new();
    private readonly TaskCompletionSource<SipResponse> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _retransmit;
    private ITimer? _timeout;
    private TimeSpan _interval;
    private SipRequest? _ack;

    internal ClientTransaction(SipTransactionLayer layer, string key, SipRequest request, SipEndPoint destination)
    {
        _layer = layer;
        Key = key;
        Request = request;
        Destination = destination;
        State = IsInvite ? ClientTransactionState.Calling : ClientTransactionState.Trying;
    }

    /// <summary>The transaction key (branch and method).</summary>
    public string Key { get; }

    /// <summary>The request sent.</summary>
    public SipRequest Request { get; }

    /// <summary>Where it was sent.</summary>
    public SipEndPoint Destination { get; }

    /// <summary>The current state.</summary>
    public ClientTransactionState State { get; private set; }

    /// <summary>True for INVITE.</summary>
    public bool IsInvite => Request.Method == "INVITE";

    /// <summary>True once a provisional response arrived (a CANCEL may then be sent, RFC 3261 §9.1).</summary>
    public bool HasProvisional { get; private set; }

    /// <summary>Completes with the first final response (a synthesized 408 on timeout, 503 on transport failure).</summary>
    public Task<SipResponse> FinalResponse => _final.Task;

    /// <summary>Raised for each provisional response.</summary>
    public event Action<SipResponse>? Provisional;

    /// <summary>Raised for 2xx responses after the first (retransmissions or other forks), which the TU must ACK again.</summary>
    public event Action<SipResponse>? AdditionalSuccess;

    private bool Reliable => Destination.Protocol.IsReliable();

    internal async Task StartAsync()
    {
        var timers = _layer.Timers;
        lock (_gate)
        {
            if (!Reliable)
            {
                _interval = timers.T1;
                _retransmit = _layer.Time.CreateTimer(_ => Retransmit(), null, _interval, Timeout.InfiniteTimeSpan); // Timer A / E
            }
            _timeout = _layer.Time.CreateTimer(_ => OnTimeout(), null, timers.Timeout64, Timeout.InfiniteTimeSpan); // Timer B / F
        }
        try
        {
            await _layer.Transport.SendAsync(Request, Destination).ConfigureAwait(false);
        }
        catch (SipTransportException ex)
        {
            Finish(Synthesize(503, "Service Unavailable (" + ex.Message + ")"));
        }
    }

    internal void OnResponse(SipResponse response)
    {
        bool deliverFinal = false, additional = false, provisional = false;
        SipRequest? ackToResend = null;
        lock (_gate)
        {
            int code = response.StatusCode;
            switch (State)
            {
                case ClientTransactionState.Calling:
                case ClientTransactionState.Trying:
                case ClientTransactionState.Proceeding:
                    if (code < 200)
                    {
                        provisional = true;
                        HasProvisional = true;
                        if (State == ClientTransactionState.Calling)
                        {
                            // Timer A stops in Proceeding; Timer B keeps running until the final response.
                            _retransmit?.Dispose();
                            _retransmit = null;
                        }
                        else if (State == ClientTransactionState.Trying && _retransmit is not null)
                        {
                            _interval = _layer.Timers.T2;
                        }
                        State = ClientTransactionState.Proceeding;
                        break;
                    }
                    StopTimers();
                    deliverFinal = true;
                    if (IsInvite && code < 300)
                    {
                        State = ClientTransactionState.Accepted;
                        _timeout = _layer.Time.CreateTimer(_ => Terminate(), null, _layer.Timers.Timeout64, Timeout.InfiniteTimeSpan); // Timer M
                    }
                    else if (IsInvite)
                    {
                        State = ClientTransactionState.Completed;
                        _ack = BuildAck(response);
                        ackToResend = _ack;
                        _timeout = _layer.Time.CreateTimer(_ => Terminate(), null, Reliable ? TimeSpan.Zero : _layer.Timers.TimerD, Timeout.InfiniteTimeSpan); // Timer D
                    }
                    else
                    {
                        State = ClientTransactionState.Completed;
                        _timeout = _layer.Time.CreateTimer(_ => Terminate(), null, Reliable ? TimeSpan.Zero : _layer.Timers.T4, Timeout.InfiniteTimeSpan); // Timer K
                    }
                    break;
                case ClientTransactionState.Accepted:
                    if (code is >= 200 and < 300) additional = true;
                    break;
                case ClientTransactionState.Completed:
                    if (IsInvite && code >= 300) ackToResend = _ack;
                    break;
            }
        }
        if (ackToResend is not null) _ = SendQuietly(ackToResend);
        if (provisional) Provisional?.Invoke(response);
        if (deliverFinal) _final.TrySetResult(response);
        if (additional) AdditionalSuccess?.Invoke(response);
    }

    /// <summary>
    /// Cancels a pending INVITE (RFC 3261 §9.1): the CANCEL goes out once a provisional response has arrived; the
    /// INVITE then ends with 487 (or with the 200 that crossed the CANCEL, which the TU must ACK and BYE).
    /// </summary>
    public async Task CancelAsync()
    {
        if (!IsInvite) return;
        for (int i = 0; i < 100 && !HasProvisional && !_final.Task.IsCompleted; i++) await Task.Delay(50).ConfigureAwait(false);
        if (_final.Task.IsCompleted) return;
        var cancel = new SipRequest("CANCEL", Request.Uri);
        cancel.Add(SipHeaderNames.Via, Request[SipHeaderNames.Via]!);
        foreach (var route in Request.All(SipHeaderNames.Route)) cancel.Add(SipHeaderNames.Route, route);
        cancel.Add(SipHeaderNames.From, Request[SipHeaderNames.From]!);
        cancel.Add(SipHeaderNames.To, Request[SipHeaderNames.To]!);
        cancel.Add(SipHeaderNames.CallId, Request.CallId);
        cancel.Add(SipHeaderNames.CSeq, new CSeq(Request.CSeq.Number, "CANCEL").ToString());
        cancel.Add(SipHeaderNames.MaxForwards, "70");
        var txn = _layer.CreateClient(cancel, Destination, keepVia: true);
        await txn.StartAsync().ConfigureAwait(false);
    }

    private SipRequest BuildAck(SipResponse response)
    {
        // RFC 3261 §17.1.1.3: same Request-URI, top Via, Call-ID, From and Route; To with the response's tag.
        var ack = new SipRequest("ACK", Request.Uri);
        ack.Add(SipHeaderNames.Via, Request[SipHeaderNames.Via]!);
        foreach (var route in Request.All(SipHeaderNames.Route)) ack.Add(SipHeaderNames.Route, route);
        ack.Add(SipHeaderNames.From, Request[SipHeaderNames.From]!);
        ack.Add(SipHeaderNames.To, response[SipHeaderNames.To] ?? Request[SipHeaderNames.To]!);
        ack.Add(SipHeaderNames.CallId, Request.CallId);
        ack.Add(SipHeaderNames.CSeq, new CSeq(Request.CSeq.Number, "ACK").ToString());
        ack.Add(SipHeaderNames.MaxForwards, "70");
        return ack;
    }

    private void Retransmit()
    {
        lock (_gate)
        {
            if (State is not (ClientTransactionState.Calling or ClientTransactionState.Trying or ClientTransactionState.Proceeding) || _retransmit is null) return;
            _interval = IsInvite ? _interval * 2 : (_interval * 2 < _layer.Timers.T2 ? _interval * 2 : _layer.Timers.T2);
            _retransmit.Change(_interval, Timeout.InfiniteTimeSpan);
        }
        _layer.CountRetransmission();
        _ = SendQuietly(Request);
    }

    private void OnTimeout()
    {
        lock (_gate)
        {
            if (State is not (ClientTransactionState.Calling or ClientTransactionState.Trying or ClientTransactionState.Proceeding)) return;
        }
        Finish(Synthesize(408, "Request Timeout"));
    }

    private void Finish(SipResponse response)
    {
        lock (_gate)
        {
            StopTimers();
            State = ClientTransactionState.Terminated;
        }
        _layer.Remove(this);
        _final.TrySetResult(response);
    }

    private SipResponse Synthesize(int code, string reason)
    {
        var r = new SipResponse(code, reason);
        r.Add(SipHeaderNames.Via, Request[SipHeaderNames.Via]!);
        r.Add(SipHeaderNames.From, Request[SipHeaderNames.From]!);
        r.Add(SipHeaderNames.To, Request[SipHeaderNames.To]!);
        r.Add(SipHeaderNames.CallId, Request.CallId);
        r.Add(SipHeaderNames.CSeq, Request[SipHeaderNames.CSeq]!);
        return r;
    }

    private void Terminate()
    {
        lock (_gate)
        {
            StopTimers();
            State = ClientTransactionState.Terminated;
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

    private async Task SendQuietly(SipRequest request)
    {
        try
        {
            await _layer.Transport.SendAsync(request, Destination).ConfigureAwait(false);
        }
        catch (SipTransportException)
        {
        }
    }
}
