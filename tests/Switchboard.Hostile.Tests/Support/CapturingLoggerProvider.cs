using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>One captured log entry.</summary>
internal sealed record LogEntry(LogLevel Level, string Category, string Message, Exception? Exception);

/// <summary>Keeps every log entry of Information and above, so tests can assert on what an operator would read.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private long _bytes;

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    /// <summary>Characters of log text written so far (message plus exception text), as a console sink would print.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Entries that mean something went wrong inside: Error or worse, or any entry carrying an exception.</summary>
    public List<LogEntry> Failures(Func<LogEntry, bool>? allowed = null) =>
        [.. _entries.Where(e => (e.Level >= LogLevel.Error || e.Exception is not null) && !(allowed?.Invoke(e) ?? false))];

    /// <summary>Characters an entry takes in a console log: time stamp, level, category, message, exception.</summary>
    public static long SizeOf(LogEntry e) => e.Category.Length + e.Message.Length + (e.Exception?.ToString().Length ?? 0) + 24;

    private void Add(LogEntry entry)
    {
        // Beyond a generous number entries are only counted, so a flood shows as a failed bound rather than an
        // out-of-memory test process (and the bound then fails on the counted entries alone).
        if (_entries.Count < 200_000) _entries.Enqueue(entry);
        Interlocked.Add(ref _bytes, SizeOf(entry));
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner.Add(new LogEntry(logLevel, category, formatter(state, exception), exception));
        }
    }
}
