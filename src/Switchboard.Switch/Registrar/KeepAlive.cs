using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;

namespace Switchboard.Switch.Registrar;

/// <summary>
/// Keepalive and liveness for registered phones: one timer sends an OPTIONS to every binding's flow each interval
/// (the outbound traffic keeps a NAT mapping open, as Kamailio's nathelper and Asterisk's qualify do; RFC 5626 §4.4
/// has the same aim). A binding that misses <see cref="BindingTable.UnreachableAfter"/> pings in a row is shown
/// unreachable; any answer, even an error status, or a new REGISTER makes it reachable again. The work is bounded:
/// one ping per binding in flight, at most <see cref="MaxOutstanding"/> in flight altogether.
/// </summary>
internal sealed class KeepAlive(SipTransactionLayer layer, BindingTable bindings, Func<SipEndPoint, string> domainFor, TimeProvider time, ILogger log)
    : IDisposable
{
    /// <summary>Most pings waiting for an answer at once; a round stops there and the rest wait for the next.</summary>
    public const int MaxOutstanding = 1024;

    private readonly ConcurrentDictionary<(string Device, string Contact), byte> _outstanding = new();
    private ITimer? _timer;
    private int _inRound;

    private TimeSpan _interval;

    /// <summary>Starts pinging every <paramref name="interval"/> (nothing when it is zero or negative).</summary>
    public void Start(TimeSpan interval)
    {
        if (interval <= TimeSpan.Zero) return;
        _interval = interval;
        _timer = time.CreateTimer(_ => Round(), null, interval, interval);
    }

    /// <summary>Pings every binding that has no ping in flight (public for tests that drive rounds by hand).</summary>
    public void Round()
    {
        if (Interlocked.Exchange(ref _inRound, 1) != 0) return;
        try
        {
            int sent = 0, skipped = 0;
            var now = time.GetUtcNow();
            foreach (var b in bindings.All())
            {
                // A phone heard from within the last interval needs no ping yet (its REGISTER just opened the mapping).
                if (now - bindings.LastHeard(b.Device, b.Contact) < _interval * 0.9) continue;
                var key = (b.Device, b.Contact);
                if (_outstanding.Count >= MaxOutstanding || PhoneFlow.Of(b) is not { } flow || !_outstanding.TryAdd(key, 0))
                {
                    skipped++;
                    continue;
                }
                sent++;
                var ping = Options(b.Contact, flow.EndPoint);
                var txn = layer.Send(ping, flow.EndPoint);
                _ = txn.FinalResponse.ContinueWith(t => OnAnswer(key, flow.EndPoint, t.Result), TaskScheduler.Default);
            }
            if (sent + skipped > 0) NetLog.KeepAliveRound(log, sent, skipped, _outstanding.Count);
        }
        finally
        {
            Volatile.Write(ref _inRound, 0);
        }
    }

    private void OnAnswer((string Device, string Contact) key, SipEndPoint flow, SipResponse r)
    {
        _outstanding.TryRemove(key, out _);
        // The transaction layer synthesizes 408 (Timer F) and 503 (transport failure) without a To tag; every real
        // answer carries one (RFC 3261 §8.2.6.2). Any real answer, 404 or 405 included, proves the flow alive.
        bool answered = !(r.StatusCode is 408 or 503 && r.To.Tag is null);
        switch (bindings.PingResult(key.Device, key.Contact, answered))
        {
            case false:
                NetLog.PhoneUnreachable(log, key.Device, bindings.Unanswered(key.Device, key.Contact), flow);
                break;
            case true:
                NetLog.PhoneReachable(log, key.Device, flow);
                break;
        }
    }

    private SipRequest Options(string contact, SipEndPoint flow)
    {
        var r = new SipRequest("OPTIONS", contact);
        var domain = domainFor(flow);
        r.Add(SipHeaderNames.From, $"<sip:keepalive@{domain}>;tag={SipTransactionLayer.NewToken()}");
        r.Add(SipHeaderNames.To, $"<{contact}>");
        r.Add(SipHeaderNames.CallId, SipTransactionLayer.NewToken(12) + "@switchboard");
        r.Add(SipHeaderNames.CSeq, "1 OPTIONS");
        r.Add(SipHeaderNames.MaxForwards, "70");
        return r;
    }

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();
}
