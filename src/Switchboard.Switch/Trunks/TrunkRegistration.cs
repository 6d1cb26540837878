using System.Globalization;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;

namespace Switchboard.Switch.Trunks;

/// <summary>Where a trunk's registration stands.</summary>
public enum TrunkRegistrationState
{
    /// <summary>Not started, or stopped.</summary>
    Unregistered,
    /// <summary>A REGISTER is under way (first one, refresh, or retry).</summary>
    Registering,
    /// <summary>The upstream accepted the binding; a refresh is scheduled before it expires.</summary>
    Registered,
    /// <summary>The last attempt failed; a retry is scheduled with exponential back-off.</summary>
    Failed,
}

/// <summary>
/// Keeps Switchboard registered at a trunk's upstream (RFC 3261 §10.2): REGISTER with digest credentials, a refresh
/// at half the granted lifetime (earlier for short ones), and after a failure retries with exponential back-off, so
/// an upstream that restarts (and forgets its bindings) has them back at the next refresh or retry.
/// </summary>
public sealed class TrunkRegistration : IAsyncDisposable
{
    private readonly Trunk _trunk;
    private readonly Func<SipRequest, Task<SipResponse>> _send;
    private readonly string _contact;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private readonly string _callId = SipTransactionLayer.NewToken(12) + "@switchboard";
    private readonly string _tag = SipTransactionLayer.NewToken();
    private uint _cseq;
    private int _failures;
    private int _running;
    private bool _stopped;
    private ITimer? _timer;

    /// <summary>Creates the registration; <paramref name="contact"/> is the URI the upstream should send calls to.</summary>
    public TrunkRegistration(Trunk trunk, string contact, Func<SipRequest, Task<SipResponse>> send, TimeProvider time, ILogger log)
    {
        _trunk = trunk;
        _contact = contact;
        _send = send;
        _time = time;
        _log = log;
    }

    /// <summary>The current state.</summary>
    public TrunkRegistrationState State { get; private set; }

    /// <summary>The trunk's name (Sip:Trunks:N:Name).</summary>
    public string Name => _trunk.Options.Name;

    /// <summary>Accepted REGISTERs so far (first registration and refreshes).</summary>
    public int Accepted { get; private set; }

    /// <summary>The lifetime the upstream granted last.</summary>
    public TimeSpan Granted { get; private set; }

    /// <summary>Why the last attempt failed (status line or exception), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>The wait before the next attempt.</summary>
    public TimeSpan NextAttemptIn { get; private set; }

    /// <summary>Raised on every state change.</summary>
    public event Action<TrunkRegistrationState>? StateChanged;

    /// <summary>Registers now.</summary>
    public void Start() => Schedule(TimeSpan.Zero);

    private void Schedule(TimeSpan after)
    {
        lock (_gate)
        {
            if (_stopped) return;
            NextAttemptIn = after;
            _timer?.Dispose();
            _timer = _time.CreateTimer(_ => _ = RunAsync(), null, after, Timeout.InfiniteTimeSpan);
        }
    }

    private void Set(TrunkRegistrationState state)
    {
        State = state;
        StateChanged?.Invoke(state);
    }

    private async Task RunAsync()
    {
        // A timer that fires while an attempt is still waiting for its response (Timer F) must not start a second one.
        if (Interlocked.Exchange(ref _running, 1) == 1) return;
        try
        {
            if (_stopped) return;
            Set(TrunkRegistrationState.Registering);
            var (r, granted) = await RegisterOnceAsync(_trunk.Options.RegisterExpires).ConfigureAwait(false);
            if (_stopped) return;
            if (r.StatusCode is >= 200 and < 300 && granted > 0)
            {
                _failures = 0;
                LastError = null;
                Accepted++;
                Granted = TimeSpan.FromSeconds(granted);
                Set(TrunkRegistrationState.Registered);
                var refresh = TimeSpan.FromSeconds(Math.Max(1, Math.Min(granted / 2.0, granted - 30)));
                SwitchLog.TrunkRegistered(_log, _trunk.Name, granted, refresh);
                Schedule(refresh);
                return;
            }
            Failed($"{r.StatusCode} {r.Reason}");
        }
        catch (Exception ex)
        {
            Failed(ex.Message);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private void Failed(string why)
    {
        if (_stopped) return;
        _failures++;
        LastError = why;
        var o = _trunk.Options;
        // At least 100 ms: a timer firing while this attempt is still finishing would be dropped by the guard in RunAsync.
        var wait = TimeSpan.FromSeconds(Math.Max(0.1, Math.Min(o.RegisterRetryMaxSeconds, o.RegisterRetrySeconds * Math.Pow(2, Math.Min(_failures - 1, 20)))));
        Set(TrunkRegistrationState.Failed);
        SwitchLog.TrunkRegistrationFailed(_log, _trunk.Name, why, _failures, wait);
        Schedule(wait);
    }

    /// <summary>One REGISTER, answering up to two challenges (the second one only when the nonce went stale) and one 423.</summary>
    private async Task<(SipResponse Response, int Granted)> RegisterOnceAsync(int expires)
    {
        var r = await _send(NewRegister(expires)).ConfigureAwait(false);
        for (int round = 0; round < 3; round++)
        {
            if (r.StatusCode is 401 or 407)
            {
                if (round > 0 && !IsStale(r)) break;
                var req = NewRegister(expires);
                if (!DigestClient.Answer(r, req, _trunk.AuthUser, _trunk.Options.Password)) break;
                r = await _send(req).ConfigureAwait(false);
            }
            else if (r.StatusCode == 423 && int.TryParse(r["Min-Expires"], NumberStyles.None, CultureInfo.InvariantCulture, out var min) && min > expires)
            {
                expires = min;
                r = await _send(NewRegister(expires)).ConfigureAwait(false);
            }
            else
            {
                break;
            }
        }
        return (r, r.StatusCode is >= 200 and < 300 ? GrantedOf(r, expires) : 0);
    }

    private static bool IsStale(SipResponse r) =>
        r.All(SipHeaderNames.WwwAuthenticate).Concat(r.All(SipHeaderNames.ProxyAuthenticate))
            .Any(h => DigestHeader.Parse(h)?["stale"]?.Equals("true", StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>The lifetime of our binding: its Contact's expires parameter, else the Expires header, else what we asked.</summary>
    private int GrantedOf(SipResponse r, int asked)
    {
        var ours = _contact.Trim('<', '>');
        foreach (var header in r.All(SipHeaderNames.Contact))
        {
            foreach (var part in SipText.SplitOutsideQuotes(header, ','))
            {
                if (!part.Contains(ours, StringComparison.OrdinalIgnoreCase)) continue;
                int at = part.IndexOf(";expires=", StringComparison.OrdinalIgnoreCase);
                if (at < 0) continue;
                var digits = part.AsSpan(at + 9);
                int n = 0;
                while (n < digits.Length && char.IsAsciiDigit(digits[n])) n++;
                if (int.TryParse(digits[..n], NumberStyles.None, CultureInfo.InvariantCulture, out var e)) return e;
            }
        }
        return int.TryParse(r[SipHeaderNames.Expires], NumberStyles.None, CultureInfo.InvariantCulture, out var h) ? h : asked;
    }

    private SipRequest NewRegister(int expires)
    {
        var o = _trunk.Options;
        var aor = $"sip:{o.Username}@{_trunk.Domain}";
        var req = new SipRequest("REGISTER", $"sip:{_trunk.Domain}{(_trunk.Upstream.Address.Port == 5060 ? "" : ":" + _trunk.Upstream.Address.Port.ToString(CultureInfo.InvariantCulture))}");
        req.Add(SipHeaderNames.From, $"<{aor}>;tag={_tag}");
        req.Add(SipHeaderNames.To, $"<{aor}>");
        req.Add(SipHeaderNames.CallId, _callId);
        req.Add(SipHeaderNames.CSeq, $"{Interlocked.Increment(ref _cseq).ToString(CultureInfo.InvariantCulture)} REGISTER");
        req.Add(SipHeaderNames.MaxForwards, "70");
        req.Add(SipHeaderNames.Contact, _contact);
        req.Add(SipHeaderNames.Expires, expires.ToString(CultureInfo.InvariantCulture));
        req.Add("User-Agent", "Switchboard");
        return req;
    }

    /// <summary>Stops refreshing and removes the binding at the upstream (best effort, a few seconds at most).</summary>
    public async ValueTask DisposeAsync()
    {
        bool wasRegistered;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            _timer?.Dispose();
            wasRegistered = State == TrunkRegistrationState.Registered;
        }
        if (wasRegistered)
        {
            try
            {
                await RegisterOnceAsync(0).WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or Sip.Transport.SipTransportException)
            {
                SwitchLog.TrunkUnregisterFailed(_log, _trunk.Name, ex.Message);
            }
        }
        Set(TrunkRegistrationState.Unregistered);
    }
}
