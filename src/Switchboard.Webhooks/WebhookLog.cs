using Microsoft.Extensions.Logging;

namespace Switchboard.Webhooks;

/// <summary>Log lines of the webhooks (event IDs 2651–2699).</summary>
internal static partial class WebhookLog
{
    [LoggerMessage(EventId = 2651, Level = LogLevel.Information, Message = "Webhook {Name}: POSTs {Events} to {Url} (queue {Capacity}, {Attempts} attempts, timeout {Timeout})")]
    public static partial void Configured(ILogger log, string name, string events, string url, int capacity, int attempts, TimeSpan timeout);

    [LoggerMessage(EventId = 2652, Level = LogLevel.Warning, Message = "Webhook {Name}: queue full ({Capacity}), oldest deliveries dropped: {Dropped} since the last report, {Total} in all")]
    public static partial void Dropped(ILogger log, string name, int capacity, long dropped, long total);

    [LoggerMessage(EventId = 2653, Level = LogLevel.Warning, Message = "Webhook {Name}: {Type} {Id} attempt {Attempt} of {Max} failed ({Reason}); retry in {Delay}")]
    public static partial void Retrying(ILogger log, string name, string type, string id, int attempt, int max, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 2654, Level = LogLevel.Error, Message = "Webhook {Name}: {Type} {Id} given up after {Attempts} attempts ({Reason})")]
    public static partial void GaveUp(ILogger log, string name, string type, string id, int attempts, string reason);

    [LoggerMessage(EventId = 2655, Level = LogLevel.Error, Message = "Webhook {Name}: {Type} {Id} answered {Status} (redirect to {Location}); redirects are not followed, delivery dropped: configure the final URL")]
    public static partial void Redirected(ILogger log, string name, string type, string id, int status, string location);

    [LoggerMessage(EventId = 2656, Level = LogLevel.Error, Message = "Webhook {Name}: {Type} {Id} refused with {Status}; a client error is not retried, delivery dropped")]
    public static partial void Refused(ILogger log, string name, string type, string id, int status);

    [LoggerMessage(EventId = 2657, Level = LogLevel.Debug, Message = "Webhook {Name}: {Type} {Id} delivered ({Status}, attempt {Attempt})")]
    public static partial void Delivered(ILogger log, string name, string type, string id, int status, int attempt);

    [LoggerMessage(EventId = 2658, Level = LogLevel.Warning, Message = "Webhooks fell behind the call events; resumed after event {Sequence}, {Missed} events were not sent")]
    public static partial void FellBehind(ILogger log, long sequence, long missed);

    [LoggerMessage(EventId = 2659, Level = LogLevel.Warning, Message = "Webhooks: {Limit} calls in progress are tracked already; call {CallId} is sent without its numbers")]
    public static partial void TooManyCalls(ILogger log, int limit, string callId);

    [LoggerMessage(EventId = 2660, Level = LogLevel.Warning, Message = "Webhooks: {Pending} answered/ended notices waiting for the event stream; the oldest was dropped ({Total} in all)")]
    public static partial void JournalBacklogDropped(ILogger log, int pending, long total);
}
