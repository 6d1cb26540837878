using System.Text.Json;
using System.Text.Json.Serialization;

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

/// <summary>
/// How a call ended, as written to the call journal. The journal and <c>/api/calls</c> carry the names of
/// <see cref="CallOutcomes"/> ("completed", "no-answer", …), never the numbers, so reordering members breaks nothing.
/// </summary>
[JsonConverter(typeof(CallOutcomeJsonConverter))]
public enum CallOutcome
{
    /// <summary>The call was answered and later hung up ("completed").</summary>
    Completed,
    /// <summary>The caller (or a Drop) ended the call before anyone answered ("cancelled").</summary>
    Cancelled,
    /// <summary>The called party rejected the call ("rejected").</summary>
    Rejected,
    /// <summary>The called party was busy or had do-not-disturb on ("busy").</summary>
    Busy,
    /// <summary>The call could not be placed (unreachable, refused, error) ("failed").</summary>
    Failed,
    /// <summary>The server stopped while the call was up ("interrupted").</summary>
    Interrupted,
    /// <summary>Nobody answered before the ring timeout ("no-answer").</summary>
    NoAnswer,
    /// <summary>The dialled number is no extension and no route takes it ("not-found").</summary>
    NotFound,
    /// <summary>The earlier name of <see cref="Cancelled"/>, kept so the phone systems' call sites keep building.</summary>
    Abandoned = Cancelled,
}

/// <summary>The journal's names of <see cref="CallOutcome"/>: what the store holds as text and the API sends.</summary>
public static class CallOutcomes
{
    /// <summary>The stable name of an outcome.</summary>
    public static string Name(CallOutcome outcome) => outcome switch
    {
        CallOutcome.Completed => "completed",
        CallOutcome.Cancelled => "cancelled",
        CallOutcome.Rejected => "rejected",
        CallOutcome.Busy => "busy",
        CallOutcome.Failed => "failed",
        CallOutcome.Interrupted => "interrupted",
        CallOutcome.NoAnswer => "no-answer",
        CallOutcome.NotFound => "not-found",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "not a call outcome"),
    };

    /// <summary>Reads a stored name; false for anything else (a row written by a newer version, a damaged value).</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out CallOutcome outcome)
    {
        switch (name)
        {
            case "completed": outcome = CallOutcome.Completed; return true;
            case "cancelled": outcome = CallOutcome.Cancelled; return true;
            case "rejected": outcome = CallOutcome.Rejected; return true;
            case "busy": outcome = CallOutcome.Busy; return true;
            case "failed": outcome = CallOutcome.Failed; return true;
            case "interrupted": outcome = CallOutcome.Interrupted; return true;
            case "no-answer": outcome = CallOutcome.NoAnswer; return true;
            case "not-found": outcome = CallOutcome.NotFound; return true;
            default: outcome = default; return false;
        }
    }

    /// <summary>
    /// What the journal records for a call that ends with <paramref name="outcome"/>. A call nobody answered is never
    /// Completed (the phone systems report a hang-up before the answer as "hung up" too): it was Cancelled. An answered
    /// call is Completed however its last leg ended, unless the server stopped during it (Interrupted).
    /// </summary>
    public static CallOutcome ForJournal(CallOutcome outcome, bool answered) => answered
        ? outcome == CallOutcome.Interrupted ? CallOutcome.Interrupted : CallOutcome.Completed
        : outcome == CallOutcome.Completed ? CallOutcome.Cancelled : outcome;
}

/// <summary>Writes and reads <see cref="CallOutcome"/> as its name in JSON (/api/calls), not as a number.</summary>
public sealed class CallOutcomeJsonConverter : JsonConverter<CallOutcome>
{
    /// <inheritdoc />
    public override CallOutcome Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && CallOutcomes.TryParse(reader.GetString(), out var o)
            ? o
            : throw new JsonException("not a call outcome name");

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, CallOutcome value, JsonSerializerOptions options) =>
        writer.WriteStringValue(CallOutcomes.Name(value));
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
