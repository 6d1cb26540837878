using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.Sip.Tests;

/// <summary>Keeps every formatted log line, so a test can count what a flood wrote to the log.</summary>
public sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, EventId Id, string Text)> _lines = new();

    /// <summary>Everything logged so far.</summary>
    public IReadOnlyList<(LogLevel Level, EventId Id, string Text)> Lines => [.. _lines];

    /// <summary>Lines containing <paramref name="text"/>.</summary>
    public int Count(string text) => _lines.Count(l => l.Text.Contains(text, StringComparison.Ordinal));

    /// <summary>Total characters logged (a stand-in for the bytes a console log would have grown by).</summary>
    public long Characters => _lines.Sum(l => (long)l.Text.Length);

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue((logLevel, eventId, formatter(state, exception)));
}
