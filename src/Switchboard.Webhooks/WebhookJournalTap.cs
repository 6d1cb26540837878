using System.Threading.Channels;
using Switchboard.Telephony;

namespace Switchboard.Webhooks;

/// <summary>An answered or ended call as the journal was told, with the event-stream position it must be sent after.</summary>
/// <param name="AfterSequence">The newest call event at that moment: the notice goes out only after every event up to it,
/// so a receiver never sees "ended" before the "ringing" that came first.</param>
/// <param name="Kind">Answered or ended.</param>
/// <param name="Row">The journal row as it stands now (for answered: without end and outcome).</param>
/// <param name="AnsweredBy">The answering device (answered only).</param>
/// <param name="At">When it happened.</param>
internal readonly record struct JournalNotice(long AfterSequence, WebhookEvents Kind, CallJournalEntry Row, string? AnsweredBy, DateTimeOffset At);

/// <summary>
/// Sits in front of the call journal and passes every call on unchanged; what the journal is told about answers and ends
/// (the rows CRMs log) is also queued for the webhooks. It is called where the journal is (under the call model's lock),
/// so it only updates a dictionary and writes to a bounded channel: it never waits, serialises or touches the network.
/// </summary>
public sealed class WebhookJournalTap : ICallJournal
{
    /// <summary>Calls in progress tracked for their numbers; beyond this, answered/ended notices carry only the call id.</summary>
    public const int MaxTrackedCalls = 100_000;

    /// <summary>Notices waiting for the dispatcher; the oldest is dropped (and counted) when it is this far behind.</summary>
    public const int MaxPendingNotices = 10_000;

    private readonly ICallJournal _inner;
    private readonly CallEventHub _hub;
    private readonly WebhookEvents _wanted;
    private readonly Dictionary<string, CallJournalEntry> _calls = [];
    private readonly Channel<JournalNotice> _notices;
    private long _droppedNotices;
    private string? _untracked;

    /// <summary>Wraps <paramref name="inner"/>; only notices of <paramref name="wanted"/> kinds are queued.</summary>
    public WebhookJournalTap(ICallJournal inner, CallEventHub hub, WebhookEvents wanted = WebhookEvents.All)
    {
        _inner = inner;
        _hub = hub;
        _wanted = wanted;
        _notices = Channel.CreateBounded<JournalNotice>(
            new BoundedChannelOptions(MaxPendingNotices) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _droppedNotices));
    }

    /// <summary>The journal behind the tap.</summary>
    public ICallJournal Inner => _inner;

    /// <summary>Notices dropped because the dispatcher was too far behind.</summary>
    public long DroppedNotices => Interlocked.Read(ref _droppedNotices);

    internal ChannelReader<JournalNotice> Notices => _notices.Reader;

    /// <summary>The id of a call that was not tracked because <see cref="MaxTrackedCalls"/> were (taken by the dispatcher's log).</summary>
    internal string? TakeUntracked() => Interlocked.Exchange(ref _untracked, null);

    /// <inheritdoc />
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at)
    {
        _inner.CallStarted(callId, calling, called, at);
        if ((_wanted & (WebhookEvents.Answered | WebhookEvents.Ended)) == 0) return;
        lock (_calls)
        {
            if (_calls.Count >= MaxTrackedCalls && !_calls.ContainsKey(callId)) _untracked = callId;
            else _calls[callId] = new CallJournalEntry(callId, calling, called, at, null, null, null, null);
        }
    }

    /// <inheritdoc />
    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at)
    {
        _inner.CallAnswered(callId, answeredBy, at);
        CallJournalEntry row;
        lock (_calls)
        {
            row = _calls.GetValueOrDefault(callId) ?? new CallJournalEntry(callId, "", "", at, null, null, null, null);
            if (row.Answered is not null) return; // the journal keeps the first answer only, and so do the webhooks
            row = row with { Answered = at, AnsweredBy = answeredBy };
            if (_calls.ContainsKey(callId)) _calls[callId] = row;
        }
        if ((_wanted & WebhookEvents.Answered) != 0)
            _notices.Writer.TryWrite(new JournalNotice(_hub.LastSequence, WebhookEvents.Answered, row, answeredBy, at));
    }

    /// <inheritdoc />
    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at)
    {
        _inner.CallEnded(callId, outcome, at);
        CallJournalEntry? row;
        lock (_calls)
        {
            if (_calls.Remove(callId, out row) && row.Ended is not null) return;
        }
        row = (row ?? new CallJournalEntry(callId, "", "", at, null, null, null, null)) with { Ended = at, Outcome = outcome };
        if ((_wanted & WebhookEvents.Ended) != 0)
            _notices.Writer.TryWrite(new JournalNotice(_hub.LastSequence, WebhookEvents.Ended, row, null, at));
    }

    /// <inheritdoc />
    public IReadOnlyList<CallJournalEntry> Recent(int count) => _inner.Recent(count);

    /// <inheritdoc />
    public long MaxCallId() => _inner.MaxCallId();
}
