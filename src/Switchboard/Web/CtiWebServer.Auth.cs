using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.Accounts;

namespace Switchboard.Web;

public sealed partial class CtiWebServer
{
    private const string SelectScheme = "switchboard";
    private const string SessionCookie = "sb_session";
    private const string CsrfHeader = "X-CSRF-Token";
    private const string CsrfField = "csrf";
    private const string LoginPolicy = "login";
    private const string StampClaim = "sb:stamp";

    /// <summary>Paths served without a sign-in: the sign-in page and its style, and the health endpoints (ops).</summary>
    private static bool IsAnonymous(string path) =>
        path is "/login" or "/login.css" or "/health" or "/health/ready" or "/favicon.ico";

    /// <summary>The account of a request that passed the gate.</summary>
    private static Account AccountOf(HttpContext ctx) => (Account)ctx.Items[typeof(Account)]!;

    private async Task HostCheckAsync(HttpContext ctx, RequestDelegate next)
    {
        var host = ctx.Request.Host;
        if (!host.HasValue)
        {
            ctx.Response.StatusCode = 400;
            await ctx.Response.WriteAsync("400 a Host header is required\r\n");
            return;
        }
        if (!_hosts!.Allows(host.Host))
        {
            var remote = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
            // The name is the attacker's text: logged escaped and cut short, never echoed into the reply.
            if (_throttle!.Allow("requests for a foreign Host", remote)) LogForeignHost(_log, remote, Printable(host.Host));
            ctx.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            await ctx.Response.WriteAsync("421 this server does not answer to that Host name (Web:AllowedHosts)\r\n");
            return;
        }
        await next(ctx);
    }

    /// <summary>
    /// Sign-in or token for everything but <see cref="IsAnonymous"/>; for a cookie sign-in also the Origin rule on every
    /// request and the anti-forgery header on every state change (and on the WebSocket, which carries the session too).
    /// </summary>
    private async Task GateAsync(HttpContext ctx, RequestDelegate next)
    {
        var path = ctx.Request.Path.Value ?? "/";
        if (IsAnonymous(path))
        {
            await next(ctx);
            return;
        }
        var remote = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
        var account = ResolveAccount(ctx);
        if (path == "/metrics" && (IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote) || account?.Role == AccountRole.Admin))
        {
            await next(ctx);
            return;
        }
        if (account is null)
        {
            if (path.StartsWith("/api/", StringComparison.Ordinal) || path == "/metrics")
            {
                ctx.Response.StatusCode = 401;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await ctx.Response.WriteAsJsonAsync(new { code = 401, text = "sign in at /login or send Authorization: Bearer <API token>" }, Json);
            }
            else
            {
                ctx.Response.Redirect("/login");
            }
            return;
        }
        if (path == "/metrics" && account.Role != AccountRole.Admin)
        {
            await Refuse(ctx, 403, "/metrics from another host needs an admin API token");
            return;
        }
        ctx.Items[typeof(Account)] = account;
        bool viaCookie = ctx.User.FindFirstValue(BearerTokenHandler.ViaClaim) != "token";
        var origin = ctx.Request.Headers.Origin.FirstOrDefault();
        // Origin is checked for tokens only on the WebSocket (a page must not read events because a token sits in
        // some other client); a browser cannot put a token on a request by itself, so nothing else needs it.
        if ((viaCookie || ctx.WebSockets.IsWebSocketRequest) && OriginRefusal(ctx, origin) is { } why)
        {
            if (_throttle!.Allow("requests from a foreign origin", remote)) LogForeignOrigin(_log, remote, Printable(origin ?? ""), why);
            await Refuse(ctx, 403, why);
            return;
        }
        bool changes = !HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method) && !HttpMethods.IsOptions(ctx.Request.Method);
        if (viaCookie && changes)
        {
            var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>();
            if (!await antiforgery.IsRequestValidAsync(ctx))
            {
                if (_throttle!.Allow("requests without a valid anti-forgery token", remote)) LogForeignOrigin(_log, remote, Printable(origin ?? ""), "no valid " + CsrfHeader);
                await Refuse(ctx, 403, $"a signed-in change needs the {CsrfHeader} header from /api/session");
                return;
            }
        }
        await next(ctx);
    }

    /// <summary>Why this request's Origin (or Sec-Fetch-Site) is refused, or null.</summary>
    private string? OriginRefusal(HttpContext ctx, string? origin)
    {
        if (origin is null)
        {
            // No Origin: a non-browser client, or a browser navigation; a browser labels cross-site ones.
            var site = ctx.Request.Headers["Sec-Fetch-Site"].FirstOrDefault();
            if (site is null or "same-origin" or "none") return null;
            // A link followed to the console from another page: a GET of a document changes nothing and its answer
            // goes to the user's tab, not to that page.
            bool navigation = HttpMethods.IsGet(ctx.Request.Method) && ctx.Request.Headers["Sec-Fetch-Mode"] == "navigate"
                && ctx.Request.Headers["Sec-Fetch-Dest"] == "document";
            return navigation ? null : $"Sec-Fetch-Site {site} without an Origin";
        }
        if (origin == "null") return "Origin null (sandboxed or file page) is never allowed";
        var own = $"{ctx.Request.Scheme}://{ctx.Request.Host.Value}";
        if (string.Equals(origin, own, StringComparison.OrdinalIgnoreCase)) return null;
        foreach (var allowed in _web.AllowedOrigins)
            if (string.Equals(origin, allowed.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)) return null;
        return "Origin is not this server and not in Web:AllowedOrigins";
    }

    private Account? ResolveAccount(HttpContext ctx)
    {
        if (ctx.User.Identity?.IsAuthenticated != true) return null;
        if (ctx.Items[typeof(Account)] is Account fromToken) return WithConfiguredExtensions(fromToken);
        // A cookie names the account; role and extensions are read now, so a deleted account or a changed role holds
        // at the next request rather than when the cookie expires.
        var name = ctx.User.Identity.Name;
        if (name is null || _accounts!.GetUserWithStamp(name) is not { } stored) return null;
        return ctx.User.FindFirstValue(StampClaim) == stored.Stamp ? WithConfiguredExtensions(stored.Account) : null;
    }

    /// <summary>Users:NAME:Extensions in the configuration overrides the stored list (so it can be managed as code).</summary>
    private Account WithConfiguredExtensions(Account a)
    {
        var configured = configuration.GetSection($"Users:{a.Name}:Extensions").Get<string[]>();
        return configured is { Length: > 0 } ? a with { Extensions = configured } : a;
    }

    private static async Task Refuse(HttpContext ctx, int status, string why)
    {
        ctx.Response.StatusCode = status;
        await ctx.Response.WriteAsJsonAsync(new { code = status, text = why }, Json);
    }

    /// <summary>A header value fit for a log line: printable ASCII only, at most 80 characters.</summary>
    private static string Printable(string s)
    {
        var span = s.AsSpan(0, Math.Min(s.Length, 80));
        return string.Create(span.Length, s, (dst, src) =>
        {
            for (int i = 0; i < dst.Length; i++) dst[i] = src[i] is >= ' ' and <= '~' ? src[i] : '?';
        });
    }

    private void MapAuth(WebApplication app)
    {
        app.MapGet("/login", (HttpContext ctx) => LoginPage(ctx, null, 200));
        app.MapPost("/login", async (HttpContext ctx) =>
        {
            var remote = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
            if (OriginRefusal(ctx, ctx.Request.Headers.Origin.FirstOrDefault()) is { } why) return Results.Text("403 " + why + "\r\n", statusCode: 403);
            if (!ctx.Request.HasFormContentType) return LoginPage(ctx, "Send the sign-in form.", 400);
            var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>();
            if (!await antiforgery.IsRequestValidAsync(ctx)) return LoginPage(ctx, "The sign-in form expired; try again.", 400);
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            var name = form["name"].FirstOrDefault() ?? "";
            var password = form["password"].FirstOrDefault() ?? "";
            if (_accounts!.VerifyPassword(name, password) is not { } account)
            {
                if (_throttle!.Allow("failed sign-ins", remote)) LogSignInFailed(_log, remote, AccountStore.IsValidName(name) ? name : "(invalid name)");
                return LoginPage(ctx, "Wrong name or password.", 401);
            }
            var stamp = _accounts.GetUserWithStamp(account.Name)?.Stamp ?? "";
            var identity = new ClaimsIdentity(
                [new Claim(ClaimTypes.Name, account.Name), new Claim(ClaimTypes.Role, account.Role.ToString()), new Claim(BearerTokenHandler.ViaClaim, "cookie"), new Claim(StampClaim, stamp)],
                CookieAuthenticationDefaults.AuthenticationScheme);
            await ctx.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            LogSignedIn(_log, account.Name, account.Role, remote);
            // Always to the console: a target taken from the request would be an open redirect.
            return Results.Redirect("/", permanent: false, preserveMethod: false);
        }).RequireRateLimiting(LoginPolicy);
        app.MapPost("/logout", async (HttpContext ctx) =>
        {
            await ctx.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        });
        app.MapGet("/api/session", (HttpContext ctx) =>
        {
            var a = AccountOf(ctx);
            var tokens = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
            return Results.Json(new
            {
                name = a.Name,
                role = a.Role.ToString().ToLowerInvariant(),
                extensions = a.Extensions,
                csrf = tokens.RequestToken,
                csrfHeader = CsrfHeader,
                phoneSystem = interpreter.CallControl.Kind,
                // The IP port answers HTTP commands from pages of any origin while this list is empty (DESIGN §5).
                ipPortOpenToAnyOrigin = access.Options.AllowedOrigins.Count == 0,
            }, Json);
        });
        app.MapPost("/api/password", async (HttpContext ctx) =>
        {
            var a = AccountOf(ctx);
            var body = await ReadJsonAsync<PasswordChange>(ctx);
            if (body is null) return Results.Json(new { code = 400, text = "send {\"current\":…, \"password\":…}" }, Json, statusCode: 400);
            if (_accounts!.VerifyPassword(a.Name, body.Current ?? "") is null) return Results.Json(new { code = 403, text = "the current password is wrong" }, Json, statusCode: 403);
            var error = _accounts.SetPassword(a.Name, body.Password ?? "");
            if (error != AccountError.None) return Results.Json(new { code = 400, text = $"password refused ({error}): {AccountStore.MinPasswordLength} to {PasswordHash.MaxPasswordLength} characters" }, Json, statusCode: 400);
            LogPasswordChanged(_log, a.Name);
            return Results.Json(new { code = 200, text = "password changed" }, Json);
        });
        app.MapGet("/api/users", (HttpContext ctx) => AdminOnly(ctx) ?? Results.Json(_accounts!.Users().Select(u => new { u.Name, role = u.Role.ToString().ToLowerInvariant(), u.Extensions }), Json));
        app.MapPost("/api/users", async (HttpContext ctx) =>
        {
            if (AdminOnly(ctx) is { } no) return no;
            var body = await ReadJsonAsync<NewUser>(ctx);
            if (body?.Name is null || !TryRole(body.Role, out var role)) return Results.Json(new { code = 400, text = "send {\"name\", \"role\": admin|operator|user, \"extensions\": [], \"password\"}" }, Json, statusCode: 400);
            var error = _accounts!.CreateUser(body.Name, role, body.Extensions ?? [], body.Password ?? "");
            if (error != AccountError.None) return Results.Json(new { code = error == AccountError.Exists ? 409 : 400, text = $"account refused: {error}" }, Json, statusCode: error == AccountError.Exists ? 409 : 400);
            LogAccountCreated(_log, body.Name, role, AccountOf(ctx).Name);
            return Results.Json(new { code = 200, text = $"account {body.Name} created" }, Json);
        });
        app.MapGet("/api/tokens", (HttpContext ctx) => AdminOnly(ctx) ?? Results.Json(_accounts!.Tokens(), Json));
        app.MapPost("/api/tokens", async (HttpContext ctx) =>
        {
            if (AdminOnly(ctx) is { } no) return no;
            var body = await ReadJsonAsync<NewToken>(ctx);
            if (body?.Label is null || !TryRole(body.Role, out var role)) return Results.Json(new { code = 400, text = "send {\"label\", \"role\": admin|operator|user, \"owner\"}" }, Json, statusCode: 400);
            var owner = body.Owner ?? AccountOf(ctx).Name;
            var (token, error) = _accounts!.CreateToken(owner, body.Label, role);
            if (token is null) return Results.Json(new { code = 400, text = $"token refused: {error}" }, Json, statusCode: 400);
            LogTokenCreated(_log, body.Label, owner, role, AccountOf(ctx).Name);
            return Results.Json(new { code = 200, text = "shown once: store it now", token }, Json);
        });
        app.MapDelete("/api/tokens/{id:long}", (HttpContext ctx, long id) =>
            AdminOnly(ctx) ?? (_accounts!.DeleteToken(id) ? Results.Json(new { code = 200, text = "token revoked" }, Json) : Results.Json(new { code = 404, text = "no such token" }, Json, statusCode: 404)));
    }

    private static IResult? AdminOnly(HttpContext ctx) =>
        AccountOf(ctx).Role == AccountRole.Admin ? null : Results.Json(new { code = 403, text = "accounts and tokens need the admin role" }, Json, statusCode: 403);

    private static bool TryRole(string? s, out AccountRole role) => Enum.TryParse(s, ignoreCase: true, out role) && Enum.IsDefined(role);

    private async Task<T?> ReadJsonAsync<T>(HttpContext ctx) where T : class
    {
        if (await ReadBodyAsync(ctx) is not { } text) return null;
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(text, Json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private sealed record PasswordChange(string? Current, string? Password);

    private sealed record NewUser(string? Name, string? Role, string[]? Extensions, string? Password);

    private sealed record NewToken(string? Label, string? Role, string? Owner);

    private static IResult LoginPage(HttpContext ctx, string? message, int status)
    {
        var tokens = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
        var html = ConsoleAssets.LoginHtml
            .Replace("{{csrf}}", HtmlEncoder.Default.Encode(tokens.RequestToken ?? ""), StringComparison.Ordinal)
            .Replace("{{message}}", HtmlEncoder.Default.Encode(message ?? ""), StringComparison.Ordinal);
        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }

    [LoggerMessage(EventId = 2601, Level = LogLevel.Warning, Message = "Web account {Name} created with the password {Password} (shown only this once; stored as a PBKDF2 hash in {Path}): sign in on the CTI server port and change it")]
    private static partial void LogAdminCreated(ILogger log, string name, string password, string path);

    [LoggerMessage(EventId = 2602, Level = LogLevel.Information, Message = "Web sign-in: {Name} ({Role}) from {Remote}")]
    private static partial void LogSignedIn(ILogger log, string name, AccountRole role, IPAddress remote);

    [LoggerMessage(EventId = 2603, Level = LogLevel.Warning, Message = "Web sign-in refused for {Name} from {Remote}: wrong name or password")]
    private static partial void LogSignInFailed(ILogger log, IPAddress remote, string name);

    [LoggerMessage(EventId = 2604, Level = LogLevel.Warning, Message = "CTI server: 421 for {Remote}: Host {Host} is not in Web:AllowedHosts (DNS rebinding?)")]
    private static partial void LogForeignHost(ILogger log, IPAddress remote, string host);

    [LoggerMessage(EventId = 2605, Level = LogLevel.Warning, Message = "CTI server: 403 for {Remote} (Origin {Origin}): {Rule}")]
    private static partial void LogForeignOrigin(ILogger log, IPAddress remote, string origin, string rule);

    [LoggerMessage(EventId = 2606, Level = LogLevel.Warning, Message = "CTI server: 429 sign-in attempts from {Remote} over {Limit} a minute")]
    private static partial void LogLoginThrottled(ILogger log, IPAddress remote, int limit);

    [LoggerMessage(EventId = 2607, Level = LogLevel.Information, Message = "CTI server: sign-in or API token required; accounts in {Path}; Host names answered: {Hosts}")]
    private static partial void LogWebAccess(ILogger log, string path, string hosts);

    [LoggerMessage(EventId = 2608, Level = LogLevel.Information, Message = "API token {Label} created for {Owner} ({Role}) by {By}")]
    private static partial void LogTokenCreated(ILogger log, string label, string owner, AccountRole role, string by);

    [LoggerMessage(EventId = 2609, Level = LogLevel.Information, Message = "Web account {Name}: password changed")]
    private static partial void LogPasswordChanged(ILogger log, string name);

    [LoggerMessage(EventId = 2610, Level = LogLevel.Information, Message = "Web account {Name} ({Role}) created by {By}")]
    private static partial void LogAccountCreated(ILogger log, string name, AccountRole role, string by);
}
