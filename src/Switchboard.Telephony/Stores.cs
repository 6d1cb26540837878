namespace Switchboard.Telephony;

/// <summary>Durable store of per-device forwarding / do-not-disturb settings.</summary>
public interface IForwardingStore
{
    /// <summary>All stored settings, keyed by device.</summary>
    IReadOnlyDictionary<string, ForwardingSetting> LoadAll();

    /// <summary>
    /// Queues a device's setting for the store's writer and returns at once; the task completes when the change is
    /// committed (a crash after that loses nothing) or fails with <see cref="StoreUnavailableException"/>. Changes are
    /// committed in the order they were queued.
    /// </summary>
    Task SaveAsync(string device, ForwardingSetting setting);
}

/// <summary>The store cannot take a change now (database locked, damaged, deleted): the command gets 503, nothing changed.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

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

/// <summary>
/// Durable call journal. Writes are queued in order to the store's writer and return at once (they are called under the
/// call model's lock, which must never wait for disk or for a database lock).
/// </summary>
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
    public Task SaveAsync(string device, ForwardingSetting setting) => Task.CompletedTask;
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
