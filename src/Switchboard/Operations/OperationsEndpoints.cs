using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Switchboard.Operations;

/// <summary>
/// /health (live: the process serves HTTP), /health/ready (the checks of <see cref="Readiness"/>; 503 while one
/// fails) and /metrics (Prometheus text format from the OpenTelemetry meter provider). /metrics is anonymous from
/// loopback only: elsewhere it needs a signed-in administrator (the web port's sign-in decides).
/// </summary>
public static class OperationsEndpoints
{
    /// <summary>Maps the three endpoints on the CTI web port, with the host's services.</summary>
    public static void Map(WebApplication app, IServiceProvider services)
    {
        app.MapGet("/health", () => Results.Text("ok\n", "text/plain; charset=utf-8"));
        app.MapGet("/health/ready", async (HttpContext ctx) =>
        {
            var checks = await services.GetRequiredService<Readiness>().CheckAsync(ctx.RequestAborted);
            bool ready = checks.All(c => c.Ok);
            var sb = new StringBuilder(ready ? "ready\n" : "not ready\n");
            foreach (var c in checks)
            {
                sb.Append(c.Name).Append(": ").Append(c.Ok ? "ok" : "FAIL").Append(" (");
                Control.ControlProtocol.AppendEscaped(sb, c.Detail);
                sb.Append(")\n");
            }
            return Results.Text(sb.ToString(), "text/plain; charset=utf-8", statusCode: ready ? 200 : 503);
        });
        if (services.GetService<MeterProvider>() is { } meters)
            app.MapPrometheusScrapingEndpoint("/metrics", meters, branch => branch.Use(async (ctx, next) =>
            {
                if (!MayScrape(ctx))
                {
                    ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                    await ctx.Response.WriteAsync("403 /metrics is served to loopback or a signed-in administrator\n");
                    return;
                }
                await next(ctx);
            }), null);
    }

    private static bool MayScrape(HttpContext ctx) =>
        (ctx.Connection.RemoteIpAddress is { } a && IPAddress.IsLoopback(a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a))
        || ctx.User.IsInRole(nameof(Accounts.AccountRole.Admin));
}
