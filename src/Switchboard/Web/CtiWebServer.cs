using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Accounts;
using Switchboard.Diagnostics;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Web;

/// <summary>
/// The CTI server port (default 2504): the operator console, JSON API and the event stream as JSON over WebSocket.
/// Every request passes the Host check (DNS rebinding), the client allow-list, then needs a sign-in (cookie) or an API
/// token, except the sign-in page and the health endpoints; commands go through the same interpreter as the IP port.
/// </summary>
public sealed partial class CtiWebServer(
    CommandInterpreter interpreter,
    CallEventHub events,
    ICallJournal journal,
    AccessPolicy access,
    IOptions<CtiServerOptions> options,
    IOptions<SwitchboardOptions> switchboardOptions,
    IConfiguration configuration,
    IServiceProvider services,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ILogger _log = loggerFactory.CreateLogger<CtiWebServer>();
    private readonly WebOptions _web = configuration.GetSection("Web").Get<WebOptions>() ?? new WebOptions();
    private LogThrottle? _throttle;
    private WebApplication? _app;
    private HostCheck? _hosts;
    private AccountStore? _accounts;

    /// <summary>The bound port (valid after start).</summary>
    public int Port { get; private set; }

    /// <summary>The accounts and API tokens (valid after start); the ops CLI opens the same file with <see cref="AccountStore"/>.</summary>
    public AccountStore Accounts => _accounts ?? throw new InvalidOperationException("the CTI server has not started");

    /// <summary>The accounts file used when Web:AccountsDatabase is empty.</summary>
    public static string AccountsPathFor(string database, WebOptions web) =>
        web.AccountsDatabase.Length > 0 ? Path.GetFullPath(web.AccountsDatabase) : AccountStore.DefaultPath(database);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var accountsPath = AccountsPathFor(switchboardOptions.Value.Database, _web);
        _accounts = new AccountStore(accountsPath);
        _hosts = new HostCheck(_web.AllowedHosts);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerFactory>(new QuietLoggerFactory(loggerFactory));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true); // the host says "Application started" once
        builder.WebHost.UseKestrel(k =>
        {
            var address = IPAddress.Parse(options.Value.ListenAddress);
            k.Listen(address, options.Value.Port);
            k.Limits.MaxRequestBodySize = options.Value.MaxRequestBodyBytes;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        ConfigureAuth(builder.Services, accountsPath);
        var app = builder.Build();
        _throttle = new LogThrottle(_log);
        app.Use(Dashboard.SecurityHeadersAsync);
        app.Use(HostCheckAsync);
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
        app.UseAuthentication();
        app.Use(GateAsync);
        app.UseRouting();
        app.UseRateLimiter();

        Dashboard.Map(app);
        Operations.OperationsEndpoints.Map(app, services);
        MapAuth(app);
        MapApi(app);
        app.Map("/api/events", async (HttpContext ctx) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest)
            {
                ctx.Response.StatusCode = 400;
                await ctx.Response.WriteAsync("400 connect with a WebSocket: /api/events?device=100&after=<seq>\r\n");
                return;
            }
            var account = AccountOf(ctx);
            var device = ctx.Request.Query["device"].FirstOrDefault() ?? "*";
            if (device != "*" && !account.MayUse(device))
            {
                ctx.Response.StatusCode = 403;
                await ctx.Response.WriteAsync($"403 account {account.Name} may not watch this device\r\n");
                return;
            }
            long? after = long.TryParse(ctx.Request.Query["after"].FirstOrDefault(), out var a) ? a : null;
            using var socket = await ctx.WebSockets.AcceptWebSocketAsync();
            await StreamEventsAsync(socket, device, after, account, ctx.Connection.RemoteIpAddress ?? IPAddress.None, ctx.RequestAborted);
        });

        await app.StartAsync(cancellationToken);
        _app = app;
        var bound = app.Urls.FirstOrDefault() ?? "";
        Port = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal)).Port;
        _log.LogInformation("CTI server (dashboard, JSON API, WebSocket events) listening on {Url}", bound);
        LogWebAccess(_log, _accounts.FilePath, _hosts.Describe());
        // After the port is up, so a start that fails does not use up the only showing of the password.
        if (_accounts.EnsureAdmin() is { } password) LogAdminCreated(_log, AccountStore.AdminName, password, _accounts.FilePath);
    }

    private void ConfigureAuth(IServiceCollection s, string accountsPath)
    {
        s.AddSingleton(_accounts!);
        // The keys that seal sign-in cookies and anti-forgery tokens, beside the accounts file and readable by the
        // service user only, so a restart keeps people signed in and nothing else on the machine can mint a cookie.
        var keys = new DirectoryInfo(Path.ChangeExtension(accountsPath, null) + "-keys");
        keys.Create();
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keys.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        s.AddDataProtection().PersistKeysToFileSystem(keys).SetApplicationName("switchboard-web");
        s.AddAuthentication(SelectScheme)
            .AddPolicyScheme(SelectScheme, SelectScheme, o => o.ForwardDefaultSelector = ctx =>
                ctx.Request.Headers.Authorization.FirstOrDefault()?.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) == true
                    ? BearerTokenHandler.SchemeName
                    : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, o =>
            {
                o.Cookie.Name = SessionCookie;
                o.Cookie.HttpOnly = true;
                // Strict: a page of another site never gets the session along; same-site pages (another port of this
                // host) are held off by the Origin check and the anti-forgery header instead.
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = _web.SessionLifetime;
                o.SlidingExpiration = true;
                o.LoginPath = "/login";
                // The gate answers unauthenticated requests itself (401 for the API, the sign-in page for the rest).
                o.Events.OnRedirectToLogin = c => { c.Response.StatusCode = 401; return Task.CompletedTask; };
                o.Events.OnRedirectToAccessDenied = c => { c.Response.StatusCode = 403; return Task.CompletedTask; };
            })
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        s.AddAntiforgery(o =>
        {
            o.HeaderName = CsrfHeader;
            o.FormFieldName = CsrfField;
            o.Cookie.Name = "sb_csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.HttpOnly = true;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.SuppressXFrameOptionsHeader = true;
        });
        s.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (c, ct) =>
            {
                var remote = c.HttpContext.Connection.RemoteIpAddress ?? IPAddress.None;
                if (_throttle!.Allow("sign-in attempts over the limit", remote)) LogLoginThrottled(_log, remote, _web.LoginAttemptsPerMinute);
                c.HttpContext.Response.Headers.RetryAfter = "60";
                c.HttpContext.Response.ContentType = "text/plain; charset=utf-8";
                await c.HttpContext.Response.WriteAsync($"429 more than {_web.LoginAttemptsPerMinute} sign-in attempts a minute from this address; wait a minute\r\n", ct);
            };
            o.AddPolicy(LoginPolicy, ctx => RateLimitPartition.GetFixedWindowLimiter(
                ctx.Connection.RemoteIpAddress?.ToString() ?? "",
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = Math.Max(1, _web.LoginAttemptsPerMinute),
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
        });
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

    private async Task StreamEventsAsync(WebSocket socket, string device, long? after, Account account, IPAddress remote, CancellationToken ct)
    {
        using var sub = events.Subscribe(device, after);
        var hello = JsonSerializer.SerializeToUtf8Bytes(new { type = "subscribed", device, after = sub.StartsAfter, missed = sub.Missed, reset = sub.SequenceReset }, Json);
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reading = WatchForCloseAsync(socket, closed);
        try
        {
            await SendBoundedAsync(socket, hello, closed.Token);
            await foreach (var ev in sub.Reader.ReadAllAsync(closed.Token))
            {
                // An account limited to its own extensions sees only what those devices see.
                if (!account.MayUse(ev.Device)) continue;
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
        finally
        {
            await closed.CancelAsync();
            await reading;
        }
    }

    /// <summary>
    /// Reads what the client sends (it should send nothing but its close): without a reader its close frame is never
    /// seen, the browser waits for an answer that never comes and the subscription lives on until TCP gives up.
    /// </summary>
    private static async Task WatchForCloseAsync(WebSocket socket, CancellationTokenSource closed)
    {
        var buffer = new byte[256];
        try
        {
            while (!closed.IsCancellationRequested)
            {
                var r = await socket.ReceiveAsync(buffer, closed.Token);
                if (r.MessageType != WebSocketMessageType.Close) continue;
                await closed.CancelAsync();
                using var answer = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, answer.Token);
                return;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
            await closed.CancelAsync();
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
        _accounts?.Dispose();
        _accounts = null;
    }
}
