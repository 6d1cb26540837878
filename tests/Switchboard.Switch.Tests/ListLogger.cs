using Microsoft.Extensions.Logging;

namespace Switchboard.Switch.Tests;

/// <summary>Collects formatted log lines with their event IDs (a logger, not a fake of anything under test).</summary>
internal sealed class ListLogger : ILogger<SipSwitch>
{
    private readonly List<(int EventId, string Text)> _lines = [];

    public List<(int EventId, string Text)> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines) _lines.Add((eventId.Id, formatter(state, exception)));
    }
}
