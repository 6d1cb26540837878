using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.Tests.Shared;

/// <summary>
/// Keeps every formatted log line, so a test can count what a flood wrote to the log. Linked as source into the test
/// projects that need it.
/// </summary>
public class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, EventId Id, string Text)> _lines;

    /// <summary>A logger with a store of its own.</summary>
    public CapturingLogger() => _lines = new();

    private protected CapturingLogger(CapturingLogger shared) => _lines = shared._lines;

    /// <summary>Everything logged so far.</summary>
    public IReadOnlyList<(LogLevel Level, EventId Id, string Text)> Lines => [.. _lines];

    /// <summary>Lines containing <paramref name="text"/>.</summary>
    public int Count(string text) => _lines.Count(l => l.Text.Contains(text, StringComparison.Ordinal));

    /// <summary>A typed logger writing into the same store (for constructors that take <see cref="ILogger{T}"/>).</summary>
    public ILogger<T> For<T>() => new Typed<T>(this);

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue((logLevel, eventId, formatter(state, exception)));

    private sealed class Typed<T>(CapturingLogger shared) : CapturingLogger(shared), ILogger<T>;
}
