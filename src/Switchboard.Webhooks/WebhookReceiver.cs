using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Switchboard.Webhooks;

/// <summary>Counts of one receiver since start.</summary>
/// <param name="Delivered">POSTs the receiver answered with 2xx.</param>
/// <param name="Dropped">Deliveries dropped from a full queue (the oldest first).</param>
/// <param name="GivenUp">Deliveries abandoned: attempts used up, a 4xx, or a redirect.</param>
/// <param name="Retries">Attempts after the first.</param>
/// <param name="Queued">Deliveries waiting now.</param>
public readonly record struct WebhookReceiverStats(long Delivered, long Dropped, long GivenUp, long Retries, int Queued);

/// <summary>
/// One receiver: its own bounded queue (drop-oldest: for a screen-pop the newest call matters, and a receiver that is
/// down for long enough to fill it has lost the old ones' moment anyway), its own HttpClient and worker, so a slow or dead
/// receiver only ever delays itself. One delivery at a time, in order; retries with doubling back-off up to a cap.
/// </summary>
internal sealed class WebhookReceiver : IDisposable
{
    private static readonly Meter Meter = new("Switchboard.Webhooks");
    private static readonly Counter<long> DeliveredCounter = Meter.CreateCounter<long>("switchboard.webhooks.delivered", description: "webhook POSTs answered with 2xx");
    private static readonly Counter<long> DroppedCounter = Meter.CreateCounter<long>("switchboard.webhooks.dropped", description: "webhook deliveries dropped from a full queue");
    private static readonly Counter<long> GivenUpCounter = Meter.CreateCounter<long>("switchboard.webhooks.given_up", description: "webhook deliveries abandoned after retries, a 4xx or a redirect");
    private static readonly Counter<long> RetryCounter = Meter.CreateCounter<long>("switchboard.webhooks.retries", description: "webhook attempts after the first");
    private static readonly TimeSpan DropReportInterval = TimeSpan.FromSeconds(10);

    private readonly WebhookReceiverOptions _options;
    private readonly Channel<WebhookDelivery> _queue;
    private readonly HttpClient _http;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly KeyValuePair<string, object?> _tag;
    private long _delivered, _dropped, _givenUp, _retries, _droppedSinceReport;
    private long _lastDropReport = long.MinValue;

    public WebhookReceiver(WebhookReceiverOptions options, ILogger log, TimeProvider time, HttpMessageHandler? handler = null)
    {
        _options = options;
        _log = log;
        _time = time;
        _tag = new("receiver", options.Name);
        _queue = Channel.CreateBounded<WebhookDelivery>(
            new BoundedChannelOptions(options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            OnDropped);
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            // A redirect is answered by logging it, never followed: the next host would get the signed call data.
            AllowAutoRedirect = false,
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxResponseHeadersLength = 64,
            UseCookies = false,
        }, disposeHandler: true)
        {
            Timeout = options.Timeout,
            MaxResponseContentBufferSize = 64 * 1024,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Switchboard-Webhooks", "1"));
    }

    public WebhookReceiverOptions Options => _options;

    public WebhookReceiverStats Stats => new(Interlocked.Read(ref _delivered), Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _givenUp), Interlocked.Read(ref _retries), _queue.Reader.Count);

    /// <summary>Queues a delivery if the receiver wants its kind; never waits (a full queue drops its oldest).</summary>
    public void Offer(WebhookDelivery delivery)
    {
        if ((_options.Events & delivery.Kind) == 0) return;
        _queue.Writer.TryWrite(delivery);
    }

    private void OnDropped(WebhookDelivery _)
    {
        Interlocked.Increment(ref _dropped);
        DroppedCounter.Add(1, _tag);
        var since = Interlocked.Increment(ref _droppedSinceReport);
        // One line for the first drop and then one per interval with the count, not one per dropped call.
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastDropReport);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < DropReportInterval) return;
        if (Interlocked.CompareExchange(ref _lastDropReport, now, last) != last) return;
        Interlocked.Add(ref _droppedSinceReport, -since);
        WebhookLog.Dropped(_log, _options.Name, _options.QueueCapacity, since, Interlocked.Read(ref _dropped));
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var delivery in _queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
                await DeliverAsync(delivery, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task DeliverAsync(WebhookDelivery d, CancellationToken stopping)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (outcome, status, reason, retryAfter, location) = await AttemptAsync(d, stopping).ConfigureAwait(false);
            switch (outcome)
            {
                case Outcome.Delivered:
                    Interlocked.Increment(ref _delivered);
                    DeliveredCounter.Add(1, _tag);
                    WebhookLog.Delivered(_log, _options.Name, d.Type, d.Id, status, attempt);
                    return;
                case Outcome.Redirected:
                    GiveUp();
                    WebhookLog.Redirected(_log, _options.Name, d.Type, d.Id, status, location ?? "(no Location)");
                    return;
                case Outcome.Refused:
                    GiveUp();
                    WebhookLog.Refused(_log, _options.Name, d.Type, d.Id, status);
                    return;
            }
            if (attempt >= _options.MaxAttempts)
            {
                GiveUp();
                WebhookLog.GaveUp(_log, _options.Name, d.Type, d.Id, attempt, reason);
                return;
            }
            var delay = _options.RetryDelay(attempt);
            if (retryAfter is { } asked && asked > delay) delay = asked < _options.RetryMaxDelay ? asked : _options.RetryMaxDelay;
            WebhookLog.Retrying(_log, _options.Name, d.Type, d.Id, attempt, _options.MaxAttempts, reason, delay);
            await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
            Interlocked.Increment(ref _retries);
            RetryCounter.Add(1, _tag);
        }
    }

    private void GiveUp()
    {
        Interlocked.Increment(ref _givenUp);
        GivenUpCounter.Add(1, _tag);
    }

    private enum Outcome { Delivered, Retry, Refused, Redirected }

    private async Task<(Outcome, int Status, string Reason, TimeSpan? RetryAfter, string? Location)> AttemptAsync(WebhookDelivery d, CancellationToken stopping)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url);
        // Signed per attempt: the timestamp is that of this attempt, so a receiver's replay window judges the send time.
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(_options.Secret, timestamp, d.Body.Span));
        request.Headers.Add("X-Switchboard-Event", d.Type);
        request.Headers.Add("X-Switchboard-Delivery", d.Id);
        request.Content = new ReadOnlyMemoryContent(d.Body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stopping).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return (Outcome.Delivered, status, "", null, null);
            if (status is >= 300 and < 400)
                return (Outcome.Redirected, status, "", null, Clip(response.Headers.Location?.ToString()));
            var retryAfter = response.Headers.RetryAfter is { } ra
                ? ra.Delta ?? (ra.Date is { } date ? date - _time.GetUtcNow() : null)
                : null;
            if (status is 408 or 425 or 429 or >= 500) return (Outcome.Retry, status, $"HTTP {status}", retryAfter, null);
            return (Outcome.Refused, status, $"HTTP {status}", null, null);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (Outcome.Retry, 0, $"no answer within {_options.Timeout}", null, null);
        }
        catch (HttpRequestException e)
        {
            return (Outcome.Retry, 0, Clip(e.Message) ?? "connection failed", null, null);
        }
    }

    private static string? Clip(string? s)
    {
        if (s is null) return null;
        var clipped = s.Length > 200 ? s[..200] : s;
        return string.Create(clipped.Length, clipped, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = src[i] is >= ' ' and <= '~' ? src[i] : '?';
        });
    }

    public void Dispose() => _http.Dispose();
}
