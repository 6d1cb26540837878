using Microsoft.Extensions.Logging;

namespace Switchboard.Interface.Tests.Support;

/// <summary>A logger that keeps every formatted line (level, event id, message), to assert on what an operator would read.</summary>
public sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<string> _lines = [];

    /// <summary>The lines so far, as "Level [id] message".</summary>
    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

    /// <summary>All lines joined, for Contains checks.</summary>
    public string Text => string.Join('\n', Lines);

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines) _lines.Add($"{logLevel} [{eventId.Id}] {formatter(state, exception)}");
    }
}
