using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Switchboard.Webhooks;

/// <summary>What a receiver is sent (configuration <c>Webhooks:&lt;name&gt;:Events</c>; names as in the payload's <c>type</c>).</summary>
[Flags]
public enum WebhookEvents
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary><c>call.ringing</c>: a device rings, with the caller's number, before anyone answers (screen-pop).</summary>
    Ringing = 1,
    /// <summary><c>call.answered</c>: the call was answered, and by which device.</summary>
    Answered = 2,
    /// <summary><c>call.ended</c>: the call ended; carries its call journal row (call logging).</summary>
    Ended = 4,
    /// <summary>All of them (the default).</summary>
    All = Ringing | Answered | Ended,
}

/// <summary>One configured receiver (configuration section <c>Webhooks:&lt;name&gt;</c>).</summary>
public sealed class WebhookReceiverOptions
{
    /// <summary>Longest accepted receiver URL.</summary>
    public const int MaxUrlLength = 2048;

    /// <summary>Shortest accepted secret: an HMAC key anyone could guess would let anyone forge calls into the CRM.</summary>
    public const int MinSecretLength = 16;

    /// <summary>The receiver's name (the configuration key), used in logs and metrics.</summary>
    public required string Name { get; init; }

    /// <summary>Where the POSTs go: an absolute http or https URL.</summary>
    public required Uri Url { get; init; }

    /// <summary>The HMAC-SHA256 key of the signature header. Required; there is no default.</summary>
    public required string Secret { get; init; }

    /// <summary>Which events the receiver gets.</summary>
    public WebhookEvents Events { get; init; } = WebhookEvents.All;

    /// <summary>Deliveries waiting for this receiver; when full, the oldest is dropped (logged and counted).</summary>
    public int QueueCapacity { get; init; } = 1000;

    /// <summary>Attempts per delivery, the first included; then it is given up (logged and counted).</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>Wait before the first retry; it doubles per retry up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between two attempts (also caps a receiver's Retry-After).</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long one attempt may take, connecting and the answer included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The delay before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan RetryDelay(int retry)
    {
        var ticks = RetryBaseDelay.Ticks * Math.Pow(2, Math.Min(retry - 1, 30));
        return ticks >= RetryMaxDelay.Ticks ? RetryMaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// Reads every receiver of the <c>Webhooks</c> section. A receiver without a URL or secret, a URL that is not http(s),
    /// or an unknown event name is a configuration error (the message names the key), never silently skipped.
    /// </summary>
    public static IReadOnlyList<WebhookReceiverOptions> FromConfiguration(IConfiguration section)
    {
        var list = new List<WebhookReceiverOptions>();
        foreach (var child in section.GetChildren())
        {
            var key = "Webhooks:" + child.Key;
            var url = child["Url"];
            if (string.IsNullOrWhiteSpace(url)) throw new FormatException($"{key}:Url is missing (the receiver's http:// or https:// address)");
            if (url.Length > MaxUrlLength || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri)
                || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0 || uri.UserInfo.Length > 0)
                throw new FormatException($"{key}:Url '{url}' is not an absolute http:// or https:// URL without user info");
            var secret = child["Secret"];
            if (string.IsNullOrEmpty(secret)) throw new FormatException($"{key}:Secret is missing; it signs every POST and has no default");
            if (secret.Length < MinSecretLength) throw new FormatException($"{key}:Secret is shorter than {MinSecretLength} characters");
            list.Add(new WebhookReceiverOptions
            {
                Name = child.Key,
                Url = uri,
                Secret = secret,
                Events = ParseEvents(child.GetSection("Events"), key),
                QueueCapacity = Int(child, "QueueCapacity", 1000, 1, 1_000_000, key),
                MaxAttempts = Int(child, "MaxAttempts", 6, 1, 100, key),
                RetryBaseDelay = Time(child, "RetryBaseDelay", TimeSpan.FromSeconds(1), key),
                RetryMaxDelay = Time(child, "RetryMaxDelay", TimeSpan.FromMinutes(1), key),
                Timeout = Time(child, "Timeout", TimeSpan.FromSeconds(10), key),
            });
        }
        return list;
    }

    private static WebhookEvents ParseEvents(IConfigurationSection section, string key)
    {
        // Either a list (Events:0=ringing) or one comma-separated value (Events=ringing,ended).
        var names = section.GetChildren().Select(c => c.Value ?? "").ToList();
        if (names.Count == 0 && section.Value is { } single) names = [.. single.Split(',')];
        if (names.Count == 0) return WebhookEvents.All;
        var events = WebhookEvents.None;
        foreach (var raw in names)
        {
            var name = raw.Trim();
            if (name.StartsWith("call.", StringComparison.OrdinalIgnoreCase)) name = name[5..];
            events |= name.ToLowerInvariant() switch
            {
                "ringing" => WebhookEvents.Ringing,
                "answered" => WebhookEvents.Answered,
                "ended" => WebhookEvents.Ended,
                "*" or "all" => WebhookEvents.All,
                _ => throw new FormatException($"{key}:Events: '{raw}' is not an event; use ringing, answered, ended"),
            };
        }
        return events;
    }

    private static int Int(IConfiguration c, string name, int fallback, int min, int max, string key)
    {
        if (c[name] is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new FormatException($"{key}:{name} '{text}' is not a whole number from {min} to {max}");
        return v;
    }

    private static TimeSpan Time(IConfiguration c, string name, TimeSpan fallback, string key)
    {
        if (c[name] is not { } text) return fallback;
        if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var v) || v <= TimeSpan.Zero || v > TimeSpan.FromDays(1))
            throw new FormatException($"{key}:{name} '{text}' is not a duration such as 00:00:05");
        return v;
    }
}
