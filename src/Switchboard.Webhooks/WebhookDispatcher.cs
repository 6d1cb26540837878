using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Telephony;

namespace Switchboard.Webhooks;

/// <summary>
/// Turns call events into webhook deliveries and hands each to every receiver that wants it. Ringing comes from the
/// event stream (a Delivered event to a device that is now Alerting: the caller's number before anyone answers);
/// answered and ended come from the journal tap, each released only after the events that preceded it, so one
/// receiver sees a call's notices in the order they happened. Handing over never waits: each receiver has its own
/// bounded queue and worker.
/// </summary>
public sealed class WebhookDispatcher : IHostedService, IDisposable
{
    private readonly CallEventHub _hub;
    private readonly WebhookJournalTap? _tap;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly List<WebhookReceiver> _receivers = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _tasks = [];
    private long _reportedJournalDrops;
    private int _disposed;

    /// <summary>Longest an answered/ended notice waits for the events before it (only if they went missing).</summary>
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(1);

    /// <summary>Creates the dispatcher; <paramref name="handler"/> replaces the HTTP stack (tests only).</summary>
    public WebhookDispatcher(IReadOnlyList<WebhookReceiverOptions> receivers, CallEventHub hub, WebhookJournalTap? tap,
        ILoggerFactory? logs = null, TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        _hub = hub;
        _tap = tap;
        logs ??= NullLoggerFactory.Instance;
        _time = time ?? TimeProvider.System;
        _log = logs.CreateLogger("Switchboard.Webhooks");
        foreach (var r in receivers)
            _receivers.Add(new WebhookReceiver(r, logs.CreateLogger("Switchboard.Webhooks." + r.Name), _time, handler));
    }

    /// <summary>The counts of each receiver, by name.</summary>
    public IReadOnlyDictionary<string, WebhookReceiverStats> Stats => _receivers.ToDictionary(r => r.Options.Name, r => r.Stats);

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before returning, so no event published after the start is missed.
        var subscription = _hub.Subscribe("*");
        foreach (var r in _receivers)
        {
            WebhookLog.Configured(_log, r.Options.Name, r.Options.Events.ToString(), r.Options.Url.GetLeftPart(UriPartial.Path),
                r.Options.QueueCapacity, r.Options.MaxAttempts, r.Options.Timeout);
            _tasks.Add(Task.Run(() => r.RunAsync(_stopping.Token), CancellationToken.None));
        }
        _tasks.Add(Task.Run(() => RouteAsync(subscription, _stopping.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RouteAsync(CallEventSubscription subscription, CancellationToken stopping)
    {
        long processed = subscription.StartsAfter;
        var notices = _tap?.Notices;
        // One outstanding wait per source, kept across turns: a fresh wait each turn would pile up waiters on the idle one.
        Task? eventsWait = null, noticesWait = null;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                // Notices whose preceding events are all routed go first.
                while (notices is not null && notices.TryPeek(out var n) && n.AfterSequence <= processed && notices.TryRead(out n))
                    Route(n);
                if (subscription.Reader.TryRead(out var ev))
                {
                    Route(ev);
                    processed = Math.Max(processed, ev.Sequence);
                    continue;
                }
                if (subscription.Reader.Completion.IsCompleted)
                {
                    // Cut off for falling behind (thousands of events queued): resume where it stopped.
                    var resumed = _hub.Subscribe("*", processed);
                    WebhookLog.FellBehind(_log, processed, resumed.Missed);
                    subscription.Dispose();
                    subscription = resumed;
                    eventsWait = null;
                    continue;
                }
                ReportJournalDrops();
                if (notices is not null && notices.TryPeek(out var waiting))
                {
                    // The events before it are published already and on their way through the subscription; should
                    // they somehow not come, the notice is not held back for ever.
                    eventsWait ??= WaitForEventsAsync(subscription, stopping);
                    if (await Task.WhenAny(eventsWait, Task.Delay(HoldLimit, _time, stopping)).ConfigureAwait(false) != eventsWait)
                        processed = Math.Max(processed, waiting.AfterSequence);
                    else eventsWait = null;
                    stopping.ThrowIfCancellationRequested();
                    continue;
                }
                eventsWait ??= WaitForEventsAsync(subscription, stopping);
                noticesWait ??= notices is null ? Task.Delay(Timeout.Infinite, stopping) : notices.WaitToReadAsync(stopping).AsTask();
                var woke = await Task.WhenAny(eventsWait, noticesWait).ConfigureAwait(false);
                if (woke == eventsWait) eventsWait = null; else noticesWait = null;
                stopping.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            subscription.Dispose();
        }
    }

    // A cut-off subscription ends its channel with SubscriberTooSlowException; the loop sees Completion and resumes.
    private static async Task WaitForEventsAsync(CallEventSubscription subscription, CancellationToken stopping)
    {
        try
        {
            await subscription.Reader.WaitToReadAsync(stopping).ConfigureAwait(false);
        }
        catch (SubscriberTooSlowException)
        {
        }
    }

    private void Route(CallEvent ev)
    {
        if (ev.Type != CallEventType.Delivered || ev.State != ConnectionState.Alerting || ev.CallId is null) return;
        Offer(WebhookPayload.Ringing(ev));
    }

    private void Route(JournalNotice n)
    {
        if (_tap?.TakeUntracked() is { } untracked) WebhookLog.TooManyCalls(_log, WebhookJournalTap.MaxTrackedCalls, untracked);
        Offer(n.Kind == WebhookEvents.Answered ? WebhookPayload.Answered(n.Row, n.AnsweredBy ?? "", n.At) : WebhookPayload.Ended(n.Row));
    }

    private void Offer(WebhookDelivery delivery)
    {
        foreach (var r in _receivers) r.Offer(delivery);
    }

    private void ReportJournalDrops()
    {
        if (_tap is null) return;
        var total = _tap.DroppedNotices;
        if (total == _reportedJournalDrops) return;
        _reportedJournalDrops = total;
        WebhookLog.JournalBacklogDropped(_log, WebhookJournalTap.MaxPendingNotices, total);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The host disposes it twice: as itself and as the hosted service resolved from it.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        foreach (var r in _receivers) r.Dispose();
        _stopping.Dispose();
    }
}
