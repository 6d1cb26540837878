using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Diagnostics;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Web;

/// <summary>
/// The CTI server port (default 2504): web dashboard, JSON API and the event stream as JSON over WebSocket. Every
/// endpoint applies the same client allow-list as the IP interface; commands go through the same interpreter.
/// </summary>
public sealed partial class CtiWebServer(
    CommandInterpreter interpreter,
    CallEventHub events,
    ICallJournal journal,
    AccessPolicy access,
    IOptions<CtiServerOptions> options,
    ILoggerFactory loggerFactory,
    IServiceProvider services) : IHostedService, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ILogger _log = loggerFactory.CreateLogger<CtiWebServer>();
    private LogThrottle? _throttle;
    private WebApplication? _app;

    /// <summary>The bound port (valid after start).</summary>
    public int Port { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true); // the host says "Application started" once
        builder.WebHost.UseKestrel(k =>
        {
            var address = IPAddress.Parse(options.Value.ListenAddress);
            k.Listen(address, options.Value.Port);
            k.Limits.MaxRequestBodySize = options.Value.MaxRequestBodyBytes;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        var app = builder.Build();
        _throttle = new LogThrottle(_log);
        app.Use(Dashboard.SecurityHeadersAsync);
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.Use(async (ctx, next) =>
        {
            if (access.CheckClient(ctx.Connection.RemoteIpAddress) is { } refused)
            {
                ctx.Response.StatusCode = 403;
                await ctx.Response.WriteAsync("403 " + refused + "\r\n");
                return;
            }
            await next(ctx);
        });

        Dashboard.Map(app);
        Operations.OperationsEndpoints.Map(app, services);
        app.MapGet("/api/devices", async (CancellationToken ct) =>
        {
            var list = new List<object>();
            foreach (var d in interpreter.CallControl.Devices.Order(StringComparer.Ordinal))
                if (await interpreter.CallControl.GetStatusAsync(d, ct) is { } s) list.Add(ToJson(s));
            return Results.Json(list, Json);
        });
        app.MapGet("/api/devices/{device}", async (string device, CancellationToken ct) =>
            await interpreter.CallControl.GetStatusAsync(device, ct) is { } s
                ? Results.Json(ToJson(s), Json)
                : Results.Json(new { code = 404, text = $"unknown device {device}" }, Json, statusCode: 404));
        app.MapGet("/api/calls", (int? limit) => Results.Json(journal.Recent(Math.Clamp(limit ?? 50, 1, 1000)), Json));
        app.MapPost("/api/commands", async (HttpContext ctx) =>
        {
            if (await ReadBodyAsync(ctx) is not { } body) return TooLarge(ctx);
            var line = body.Trim();
            var client = new ClientContext(FrontEndKind.Http, ctx.Connection.RemoteIpAddress) { Origin = ctx.Request.Headers.Origin.FirstOrDefault() };
            var reply = await interpreter.ExecuteAsync(line, client, ctx.RequestAborted);
            return Results.Json(new { code = (int)reply.Code, text = reply.Message }, Json, statusCode: (int)reply.Code);
        });
        app.Map("/api/events", async (HttpContext ctx) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest)
            {
                ctx.Response.StatusCode = 400;
                await ctx.Response.WriteAsync("400 connect with a WebSocket: /api/events?device=100&after=<seq>\r\n");
                return;
            }
            var device = ctx.Request.Query["device"].FirstOrDefault() ?? "*";
            long? after = long.TryParse(ctx.Request.Query["after"].FirstOrDefault(), out var a) ? a : null;
            using var socket = await ctx.WebSockets.AcceptWebSocketAsync();
            await StreamEventsAsync(socket, device, after, ctx.Connection.RemoteIpAddress ?? IPAddress.None, ctx.RequestAborted);
        });

        await app.StartAsync(cancellationToken);
        _app = app;
        var bound = app.Urls.FirstOrDefault() ?? "";
        Port = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)).Port;
        _log.LogInformation("CTI server (dashboard, JSON API, WebSocket events) listening on {Url}", bound);
    }

    /// <summary>
    /// The body as text, or null when it is larger than the limit: refused from Content-Length before reading, and a
    /// chunked body stops at the limit (Kestrel's own limit would otherwise surface as an unhandled exception).
    /// </summary>
    private async Task<string?> ReadBodyAsync(HttpContext ctx)
    {
        int max = options.Value.MaxRequestBodyBytes;
        if (ctx.Request.ContentLength > max) return null;
        try
        {
            using var reader = new StreamReader(ctx.Request.Body);
            return await reader.ReadToEndAsync(ctx.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
    }

    private IResult TooLarge(HttpContext ctx)
    {
        var remote = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
        if (_throttle!.Allow("request bodies over the limit", remote)) LogBodyTooLarge(_log, remote, options.Value.MaxRequestBodyBytes);
        // The unread rest of the body is not worth draining: close the connection after the reply.
        ctx.Response.Headers.Connection = "close";
        return Results.Json(new { code = 413, text = $"request body larger than {options.Value.MaxRequestBodyBytes} bytes" }, Json, statusCode: 413);
    }

    private async Task StreamEventsAsync(WebSocket socket, string device, long? after, IPAddress remote, CancellationToken ct)
    {
        using var sub = events.Subscribe(device, after);
        var hello = JsonSerializer.SerializeToUtf8Bytes(new { type = "subscribed", device, after = sub.StartsAfter, missed = sub.Missed, reset = sub.SequenceReset }, Json);
        try
        {
            await SendBoundedAsync(socket, hello, ct);
            await foreach (var ev in sub.Reader.ReadAllAsync(ct))
            {
                var bytes = JsonSerializer.SerializeToUtf8Bytes(new
                {
                    type = "event",
                    seq = ev.Sequence,
                    time = ev.Time,
                    name = ev.Type.ToString(),
                    device = ev.Device,
                    call = ev.CallId,
                    state = ev.State.ToWire(),
                    subject = ev.Subject,
                    calling = ev.Calling,
                    called = ev.Called,
                    cause = ev.Cause,
                }, Json);
                await SendBoundedAsync(socket, bytes, ct);
            }
        }
        catch (SubscriberTooSlowException ex)
        {
            // The queue of this subscriber (the hub's bounded channel) overflowed: say where to resume, briefly.
            using var close = new CancellationTokenSource(options.Value.WebSocketSendTimeout);
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, $"too slow; resume after {ex.LastDelivered}", close.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
            {
                socket.Abort();
            }
        }
        catch (WebSocketSendTimeoutException)
        {
            if (_throttle!.Allow("WebSocket clients that stopped reading", remote)) LogWebSocketStalled(_log, remote, options.Value.WebSocketSendTimeout.TotalSeconds);
            socket.Abort();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    /// <summary>
    /// One message out, or the client is cut off: a peer that stops reading would otherwise hold this task, its
    /// subscription and the socket's buffers for as long as it keeps the TCP connection open.
    /// </summary>
    private async Task SendBoundedAsync(WebSocket socket, byte[] message, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.WebSocketSendTimeout);
        try
        {
            await socket.SendAsync(message, WebSocketMessageType.Text, true, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new WebSocketSendTimeoutException();
        }
    }

    private sealed class WebSocketSendTimeoutException : Exception;

    [LoggerMessage(EventId = 2551, Level = LogLevel.Warning, Message = "CTI server: 413 for a request body from {Remote} larger than {Max} bytes")]
    private static partial void LogBodyTooLarge(ILogger log, IPAddress remote, int max);

    [LoggerMessage(EventId = 2552, Level = LogLevel.Warning, Message = "CTI server: WebSocket client {Remote} took no event for {Seconds} s; disconnected")]
    private static partial void LogWebSocketStalled(ILogger log, IPAddress remote, double seconds);

    private static object ToJson(DeviceStatus s) => new
    {
        device = s.Device,
        reachable = s.Reachable,
        forwarding = s.Forwarding.ToString(),
        calls = s.Connections.Select(c => new { call = c.CallId, state = c.State.ToWire(), partners = c.Partners }),
        registered = s.RegisteredFrom,
    };

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
        _throttle?.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _app = null;
    }
}
