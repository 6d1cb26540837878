using Microsoft.Extensions.Logging;
using Switchboard.Telephony;

namespace Switchboard.Asterisk.Tests;

/// <summary>A connector wired to a replay server, with every call event collected.</summary>
internal sealed class Harness : IAsyncDisposable
{
    private readonly List<CallEvent> _events = [];
    private readonly CallEventSubscription _sub;
    private readonly Task _pump;

    private Harness(ReplayAmiServer server, AsteriskPhoneSystem system, CallEventSubscription sub, CapturingLoggerProvider logs)
    {
        Server = server;
        System = system;
        _sub = sub;
        Logs = logs;
        _pump = Task.Run(async () =>
        {
            await foreach (var e in sub.Reader.ReadAllAsync()) lock (_events) _events.Add(e);
        });
    }

    public ReplayAmiServer Server { get; }
    public AsteriskPhoneSystem System { get; }
    public CapturingLoggerProvider Logs { get; }

    public IReadOnlyList<CallEvent> Events { get { lock (_events) return [.. _events]; } }

    public static async Task<Harness> StartAsync(ReplayAmiServer server, bool waitConnected = true)
    {
        var hub = new CallEventHub();
        var model = new CallModel(["100", "101", "102"], hub);
        var logs = new CapturingLoggerProvider();
        var factory = new CapturingLoggerFactory(logs);
        var options = new AsteriskOptions
        {
            Port = server.Port,
            Username = "cti",
            Secret = "ctisecret",
            Devices = ["100", "101", "102"],
            PingIntervalSeconds = 3600,
            ReconnectMinDelayMs = 50,
        };
        var system = new AsteriskPhoneSystem(model, options, factory);
        var h = new Harness(server, system, hub.Subscribe("*"), logs);
        await system.StartAsync(default);
        if (waitConnected) await h.UntilAsync(() => system.IsConnected, "logged in");
        return h;
    }

    public async Task UntilAsync(Func<bool> condition, string what, int timeoutMs = 5000)
    {
        var end = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > end)
                throw new TimeoutException($"timed out waiting for {what}; events:\n" + string.Join("\n", Events.Select(e => e.ToLine()))
                    + "\nmismatches: " + string.Join("\n", Server.Mismatches));
            await Task.Delay(10);
        }
    }

    public Task<CallEvent> EventAsync(CallEventType type, string device, Func<CallEvent, bool>? extra = null, int after = 0) =>
        EventAsync(e => e.Type == type && e.Device == device && (extra?.Invoke(e) ?? true), $"{type} at {device}", after);

    public async Task<CallEvent> EventAsync(Func<CallEvent, bool> match, string what, int after = 0)
    {
        CallEvent? found = null;
        await UntilAsync(() => (found = Events.Skip(after).FirstOrDefault(match)) is not null, what);
        return found!;
    }

    public ConnectionState? StateOf(string device) =>
        System.Model.Status(device)!.Connections.FirstOrDefault()?.State;

    public async ValueTask DisposeAsync()
    {
        await System.DisposeAsync();
        _sub.Dispose();
        await Server.DisposeAsync();
        await _pump;
    }
}

/// <summary>Keeps every log line so tests can check what is (not) logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._lines) owner._lines.Add(formatter(state, exception) + (exception is null ? "" : " " + exception));
        }
    }
}

/// <summary>A logger factory over <see cref="CapturingLoggerProvider"/> (the full Logging package is not referenced).</summary>
internal sealed class CapturingLoggerFactory(CapturingLoggerProvider provider) : ILoggerFactory
{
    public void AddProvider(ILoggerProvider p) { }
    public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);
    public void Dispose() { }
}
