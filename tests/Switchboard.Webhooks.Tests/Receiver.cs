using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Switchboard.Webhooks.Tests;

/// <summary>One POST as a receiver got it.</summary>
public sealed record ReceivedPost(IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>A header value, or null.</summary>
    public string? Header(string name) => Headers.GetValueOrDefault(name);

    /// <summary>The body as text.</summary>
    public string Text => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A CRM's webhook endpoint: a real Kestrel server on a free loopback port. <c>answer</c> decides the status of the n-th
/// POST (1-based); a null status never answers (the request stays open until the receiver is disposed).
/// </summary>
public sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;

    private Receiver(WebApplication app) => _app = app;

    /// <summary>Every POST received, in order (also those not answered yet).</summary>
    public ConcurrentQueue<ReceivedPost> Posts { get; } = new();

    /// <summary>The receiver's URL.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Starts a receiver; by default it answers 204 to everything.</summary>
    public static async Task<Receiver> StartAsync(Func<int, (int? Status, string? Location)>? answer = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new Receiver(app);
        answer ??= _ => (204, null);
        app.Run(async ctx =>
        {
            using var body = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(body);
            var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            receiver.Posts.Enqueue(new ReceivedPost(headers, body.ToArray()));
            var (status, location) = answer(Interlocked.Increment(ref receiver._count));
            if (status is null)
            {
                await receiver._release.Task.WaitAsync(ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }
            ctx.Response.StatusCode = status.Value;
            if (location is not null) ctx.Response.Headers.Location = location;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = new Uri(address + "/hook");
        return receiver;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
