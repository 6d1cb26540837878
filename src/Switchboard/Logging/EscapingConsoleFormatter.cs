using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Switchboard.Logging;

/// <summary>
/// The console log format (one line per entry: time, level, category, event ID, message), with every control
/// character written as <c>\xNN</c>. Values from the network reach many log lines; escaping at the sink means no CR,
/// LF or ESC from a peer can forge a line or drive the operator's terminal, whichever component logged it.
/// </summary>
public sealed class EscapingConsoleFormatter : ConsoleFormatter, IDisposable
{
    /// <summary>The name to select it with (<c>Logging:Console:FormatterName</c>).</summary>
    public const string FormatterName = "switchboard";

    private readonly IDisposable? _reload;
    private SimpleConsoleFormatterOptions _options;

    /// <summary>Creates the formatter with the simple console formatter's options (timestamp format, UTC).</summary>
    public EscapingConsoleFormatter(IOptionsMonitor<SimpleConsoleFormatterOptions> options) : base(FormatterName)
    {
        _options = options.CurrentValue;
        _reload = options.OnChange(o => _options = o);
    }

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var o = _options;
        if (o.TimestampFormat is { } format)
            textWriter.Write((o.UseUtcTimestamp ? DateTimeOffset.UtcNow : DateTimeOffset.Now).ToString(format, System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id);
        textWriter.Write("] ");
        WriteEscaped(textWriter, message);
        if (logEntry.Exception is { } ex)
        {
            // A stack trace is ours, not a peer's, but its message may quote input: one line, escaped, like the rest.
            textWriter.Write(' ');
            WriteEscaped(textWriter, ex.ToString());
        }
        textWriter.Write('\n');
    }

    /// <summary>Writes the text with control characters (and DEL) as <c>\xNN</c>; line breaks become <c>\x0A</c>.</summary>
    public static void WriteEscaped(TextWriter writer, string? text)
    {
        if (text is null) return;
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= ' ' && c != '\x7f' && c is not ('\u0085' or '\u2028' or '\u2029') && !(c >= '\x80' && c < '\xa0')) continue;
            writer.Write(text.AsSpan(start, i - start));
            writer.Write("\\x");
            writer.Write(((int)c).ToString(c > 0xFF ? "X4" : "X2", System.Globalization.CultureInfo.InvariantCulture));
            start = i + 1;
        }
        writer.Write(text.AsSpan(start));
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    /// <inheritdoc />
    public void Dispose() => _reload?.Dispose();
}
