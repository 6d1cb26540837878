namespace Switchboard.Telephony;

/// <summary>Durable store of per-device forwarding / do-not-disturb settings.</summary>
public interface IForwardingStore
{
    /// <summary>All stored settings, keyed by device.</summary>
    IReadOnlyDictionary<string, ForwardingSetting> LoadAll();

    /// <summary>Stores a device's setting durably before returning (a crash right after loses nothing).</summary>
    void Save(string device, ForwardingSetting setting);
}

/// <summary>How a call ended, as written to the call journal.</summary>
public enum CallOutcome
{
    /// <summary>The call was answered and later hung up.</summary>
    Completed,
    /// <summary>Nobody answered before the caller gave up.</summary>
    Abandoned,
    /// <summary>The called party rejected the call.</summary>
    Rejected,
    /// <summary>The called party was busy or had do-not-disturb on.</summary>
    Busy,
    /// <summary>The call could not be placed (unreachable, refused, error).</summary>
    Failed,
    /// <summary>The server stopped while the call was up.</summary>
    Interrupted,
}

/// <summary>One call journal row: who called whom, when, how long, how it ended.</summary>
public sealed record CallJournalEntry(
    string CallId,
    string Calling,
    string Called,
    DateTimeOffset Started,
    DateTimeOffset? Answered,
    DateTimeOffset? Ended,
    CallOutcome? Outcome,
    string? AnsweredBy);

/// <summary>Durable call journal; each write is durable when the method returns.</summary>
public interface ICallJournal
{
    /// <summary>Records a new call.</summary>
    void CallStarted(string callId, string calling, string called, DateTimeOffset at);

    /// <summary>Records the first answer of a call.</summary>
    void CallAnswered(string callId, string answeredBy, DateTimeOffset at);

    /// <summary>Records the end of a call.</summary>
    void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at);

    /// <summary>The most recent calls, newest first.</summary>
    IReadOnlyList<CallJournalEntry> Recent(int count);

    /// <summary>The highest numeric call id recorded, so ids keep growing across restarts.</summary>
    long MaxCallId();
}

/// <summary>Stores that keep nothing: for tests and tools that do not need durability.</summary>
public sealed class NullStores : IForwardingStore, ICallJournal
{
    /// <summary>The shared instance.</summary>
    public static readonly NullStores Instance = new();

    /// <inheritdoc />
    public IReadOnlyDictionary<string, ForwardingSetting> LoadAll() => new Dictionary<string, ForwardingSetting>();
    /// <inheritdoc />
    public void Save(string device, ForwardingSetting setting) { }
    /// <inheritdoc />
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at) { }
    /// <inheritdoc />
    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at) { }
    /// <inheritdoc />
    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at) { }
    /// <inheritdoc />
    public IReadOnlyList<CallJournalEntry> Recent(int count) => [];
    /// <inheritdoc />
    public long MaxCallId() => 0;
}
