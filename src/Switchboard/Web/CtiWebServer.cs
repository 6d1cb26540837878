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
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Web;

/// <summary>
/// The CTI server port (default 2504): web dashboard, JSON API and the event stream as JSON over WebSocket. Every
/// endpoint applies the same client allow-list as the IP interface; commands go through the same interpreter.
/// </summary>
public sealed class CtiWebServer(
    CommandInterpreter interpreter,
    CallEventHub events,
    ICallJournal journal,
    AccessPolicy access,
    IOptions<CtiServerOptions> options,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ILogger _log = loggerFactory.CreateLogger<CtiWebServer>();
    private WebApplication? _app;

    /// <summary>The bound port (valid after start).</summary>
    public int Port { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseKestrel(k =>
        {
            var address = IPAddress.Parse(options.Value.ListenAddress);
            k.Listen(address, options.Value.Port);
            k.Limits.MaxRequestBodySize = 64 * 1024;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        var app = builder.Build();
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

        app.MapGet("/", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
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
            using var reader = new StreamReader(ctx.Request.Body);
            var line = (await reader.ReadToEndAsync(ctx.RequestAborted)).Trim();
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
            await StreamEventsAsync(socket, device, after, ctx.RequestAborted);
        });

        await app.StartAsync(cancellationToken);
        _app = app;
        var bound = app.Urls.FirstOrDefault() ?? "";
        Port = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)).Port;
        _log.LogInformation("CTI server (dashboard, JSON API, WebSocket events) listening on {Url}", bound);
    }

    private async Task StreamEventsAsync(WebSocket socket, string device, long? after, CancellationToken ct)
    {
        using var sub = events.Subscribe(device, after);
        var hello = JsonSerializer.SerializeToUtf8Bytes(new { type = "subscribed", device, after = sub.StartsAfter, missed = sub.Missed, reset = sub.SequenceReset }, Json);
        await socket.SendAsync(hello, WebSocketMessageType.Text, true, ct);
        try
        {
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
                await socket.SendAsync(bytes, WebSocketMessageType.Text, true, ct);
            }
        }
        catch (SubscriberTooSlowException ex)
        {
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, $"too slow; resume after {ex.LastDelivered}", CancellationToken.None);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
    }

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
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _app = null;
    }
}
