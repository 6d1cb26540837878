using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Switchboard.Logging;

namespace Switchboard.Tests;

/// <summary>The console log format: whatever a component logs, a peer's bytes cannot break or forge a line.</summary>
public sealed class LogFormatTests
{
    private sealed class FixedOptions(SimpleConsoleFormatterOptions value) : IOptionsMonitor<SimpleConsoleFormatterOptions>
    {
        public SimpleConsoleFormatterOptions CurrentValue => value;

        public SimpleConsoleFormatterOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<SimpleConsoleFormatterOptions, string?> listener) => null;
    }

    private static string Format(string message, Exception? ex = null)
    {
        using var formatter = new EscapingConsoleFormatter(new FixedOptions(new SimpleConsoleFormatterOptions { TimestampFormat = null }));
        using var writer = new StringWriter();
        formatter.Write(new LogEntry<string>(LogLevel.Warning, "Switchboard.Sip", new EventId(5061), message, ex, (s, _) => s), null, writer);
        return writer.ToString();
    }

    [Fact]
    public void CR_LF_and_ESC_from_a_peer_are_written_as_escapes_on_one_line()
    {
        Assert.Equal("warn: Switchboard.Sip[5061] From evil\\x1B[2J\\x0D\\x0A12:00:00.000 info: forged line\n",
            Format("From evil\u001b[2J\r\n12:00:00.000 info: forged line"));
    }

    [Fact]
    public void An_exception_stays_on_the_line_of_its_message()
    {
        var text = Format("handler failed", new InvalidOperationException("bad\nvalue"));
        Assert.StartsWith("warn: Switchboard.Sip[5061] handler failed System.InvalidOperationException: bad\\x0Avalue", text);
        Assert.Equal(1, text.Count(c => c == '\n'));
    }
}
