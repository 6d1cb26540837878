using Microsoft.Extensions.Logging;
using Switchboard.Simulation;
using Switchboard.Storage;
using Switchboard.Telephony;
using Switchboard.Tests.Shared;

namespace Switchboard.Webhooks.Tests;

/// <summary>Every category logs into one <see cref="CapturingLogger"/>.</summary>
public sealed class CapturingLoggerFactory(CapturingLogger log) : ILoggerFactory
{
    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => log;

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) { }

    /// <inheritdoc />
    public void Dispose() { }
}

/// <summary>
/// The simulated phone system with the real SQLite journal behind the webhook tap, and the dispatcher started, as the
/// host wires them; commands go straight to the phone system (the reply is what a client would see).
/// </summary>
public sealed class Harness : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-hooks-").FullName;

    private Harness(IReadOnlyList<WebhookReceiverOptions> receivers)
    {
        Store = new SqliteStore(Path.Combine(_dir, "sb.db"));
        Tap = new WebhookJournalTap(Store, Events);
        Model = new CallModel(new SimulationOptions().Devices, Events, Store, Tap);
        Phones = new SimulatedPhoneSystem(Model, new SimulationOptions());
        Dispatcher = new WebhookDispatcher(receivers, Events, Tap, new CapturingLoggerFactory(Log));
    }

    /// <summary>The event hub of the phone system.</summary>
    public CallEventHub Events { get; } = new();

    /// <summary>The real journal.</summary>
    public SqliteStore Store { get; }

    /// <summary>The tap in front of it.</summary>
    public WebhookJournalTap Tap { get; }

    /// <summary>The call model behind the phones.</summary>
    public CallModel Model { get; }

    /// <summary>The phones 100–105.</summary>
    public SimulatedPhoneSystem Phones { get; }

    /// <summary>The dispatcher under test.</summary>
    public WebhookDispatcher Dispatcher { get; }

    /// <summary>Everything the webhooks logged.</summary>
    public CapturingLogger Log { get; } = new();

    /// <summary>A receiver's settings with a test secret and fast retries.</summary>
    public static WebhookReceiverOptions Options(string name, Uri url, WebhookEvents events = WebhookEvents.All, int queue = 1000, int attempts = 6,
        TimeSpan? timeout = null) => new()
        {
            Name = name,
            Url = url,
            Secret = "test-secret-of-" + name + "-0123456789",
            Events = events,
            QueueCapacity = queue,
            MaxAttempts = attempts,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            RetryMaxDelay = TimeSpan.FromMilliseconds(200),
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
        };

    /// <summary>Builds and starts the dispatcher.</summary>
    public static async Task<Harness> StartAsync(params WebhookReceiverOptions[] receivers)
    {
        var h = new Harness(receivers);
        await h.Dispatcher.StartAsync(CancellationToken.None);
        return h;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Dispatcher.StopAsync(CancellationToken.None);
        Dispatcher.Dispose();
        Phones.Dispose();
        Store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>Bounded waits: deliveries happen on other threads, so tests poll for what they expect instead of sleeping.</summary>
public static class Poll
{
    /// <summary>Only ever reached when something is broken.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Polls until the condition holds, else fails naming <paramref name="what"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var end = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
