using System.Buffers;
using System.Text.Json;
using Switchboard.Telephony;

namespace Switchboard.Webhooks;

/// <summary>One event, serialised once and queued to every receiver that wants it.</summary>
/// <param name="Id">The delivery id (<c>X-Switchboard-Delivery</c>): the same in every retry, so a receiver can drop repeats.</param>
/// <param name="Kind">Which event it is, for the receivers' filters.</param>
/// <param name="Body">The JSON body, UTF-8.</param>
public sealed record WebhookDelivery(string Id, WebhookEvents Kind, ReadOnlyMemory<byte> Body)
{
    /// <summary>The payload's <c>type</c> (also the <c>X-Switchboard-Event</c> header).</summary>
    public string Type => WebhookPayload.TypeName(Kind);
}

/// <summary>
/// The JSON bodies. Every body has <c>id</c>, <c>type</c> (<c>call.ringing</c>, <c>call.answered</c>, <c>call.ended</c>),
/// <c>time</c> and <c>callId</c>; ringing adds the ringing <c>device</c> and the numbers, answered the answering device,
/// ended the call's <c>journal</c> row.
/// </summary>
public static class WebhookPayload
{
    /// <summary>The wire name of an event.</summary>
    public static string TypeName(WebhookEvents kind) => kind switch
    {
        WebhookEvents.Ringing => "call.ringing",
        WebhookEvents.Answered => "call.answered",
        WebhookEvents.Ended => "call.ended",
        _ => "unknown",
    };

    /// <summary>A device rings: the caller's number before anyone answers.</summary>
    public static WebhookDelivery Ringing(CallEvent ev) => Build(WebhookEvents.Ringing, ev.Time, ev.CallId, w =>
    {
        w.WriteString("device", ev.Device);
        w.WriteString("calling", ev.Calling);
        w.WriteString("called", ev.Called);
        w.WriteNumber("sequence", ev.Sequence);
    });

    /// <summary>The call was answered by <paramref name="answeredBy"/>.</summary>
    public static WebhookDelivery Answered(CallJournalEntry call, string answeredBy, DateTimeOffset at) => Build(WebhookEvents.Answered, at, call.CallId, w =>
    {
        w.WriteString("device", answeredBy);
        w.WriteString("calling", call.Calling);
        w.WriteString("called", call.Called);
    });

    /// <summary>The call ended; its journal row as it was written.</summary>
    public static WebhookDelivery Ended(CallJournalEntry row) => Build(WebhookEvents.Ended, row.Ended ?? DateTimeOffset.UtcNow, row.CallId, w =>
    {
        w.WriteString("calling", row.Calling);
        w.WriteString("called", row.Called);
        w.WriteStartObject("journal");
        w.WriteString("callId", row.CallId);
        w.WriteString("calling", row.Calling);
        w.WriteString("called", row.Called);
        w.WriteString("started", row.Started);
        if (row.Answered is { } answered) w.WriteString("answered", answered); else w.WriteNull("answered");
        if (row.Ended is { } ended) w.WriteString("ended", ended); else w.WriteNull("ended");
        w.WriteString("outcome", row.Outcome?.ToString());
        w.WriteString("answeredBy", row.AnsweredBy);
        if (row.Answered is { } a && row.Ended is { } e) w.WriteNumber("talkSeconds", Math.Round((e - a).TotalSeconds, 3));
        else w.WriteNull("talkSeconds");
        w.WriteEndObject();
    });

    private static WebhookDelivery Build(WebhookEvents kind, DateTimeOffset time, string? callId, Action<Utf8JsonWriter> fields)
    {
        var id = Guid.CreateVersion7().ToString("N");
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("type", TypeName(kind));
            w.WriteString("time", time);
            w.WriteString("callId", callId);
            fields(w);
            w.WriteEndObject();
        }
        return new WebhookDelivery(id, kind, buffer.WrittenMemory.ToArray());
    }
}
