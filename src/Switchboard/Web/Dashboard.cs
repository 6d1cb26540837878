using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Switchboard.Web;

/// <summary>
/// The operator console's files and the headers of every response. Everything shown comes from phones and trunks, so
/// the script treats it as text: it builds DOM nodes and sets <c>textContent</c>, never <c>innerHTML</c>; script and
/// style are files of their own, so the Content-Security-Policy forbids inline script altogether and a string that
/// slipped through anyway cannot run.
/// </summary>
internal static class Dashboard
{
    /// <summary>
    /// Sent with every response of the CTI port: only this origin's files run (no inline script, no eval), nothing
    /// may frame the page (click-jacking of the console), no plugins, no base-URI tricks.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Adds the security headers before anything else answers (also the allow-list's 403).</summary>
    public static Task SecurityHeadersAsync(HttpContext ctx, RequestDelegate next)
    {
        var h = ctx.Response.Headers;
        h.ContentSecurityPolicy = ContentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        // same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null" with our own form posts.
        h["Referrer-Policy"] = "same-origin";
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        h["Cross-Origin-Resource-Policy"] = "same-origin";
        return next(ctx);
    }

    /// <summary>Maps the console page, its script and styles (the sign-in page is mapped with the sign-in endpoints).</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Content(ConsoleAssets.IndexHtml, "text/html; charset=utf-8"));
        app.MapGet("/console.js", () => Results.Content(ConsoleAssets.Script, "text/javascript; charset=utf-8"));
        app.MapGet("/console.css", () => Results.Content(ConsoleAssets.Style, "text/css; charset=utf-8"));
        app.MapGet("/login.css", () => Results.Content(ConsoleAssets.LoginStyle, "text/css; charset=utf-8"));
    }
}
