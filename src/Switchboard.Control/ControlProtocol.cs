using System.Text;

namespace Switchboard.Control;

/// <summary>
/// The control socket's wire format. A request is one line of space-separated words (printable ASCII, at most
/// <see cref="MaxRequestBytes"/> bytes, ending in LF); the reply is a status line (<c>ok</c> or
/// <c>error KIND: message</c>) followed by body lines until the server closes the connection. Every reply line is
/// escaped (control characters as <c>\xNN</c>), because phones choose some of what is shown (user agents, contacts).
/// </summary>
public static class ControlProtocol
{
    /// <summary>The largest request line; a longer one is refused with <see cref="ControlError.RequestTooLarge"/>.</summary>
    public const int MaxRequestBytes = 1024;

    /// <summary>The most words in a request.</summary>
    public const int MaxWords = 16;

    /// <summary>The most body lines in one reply (a larger listing is cut, with a last line saying so).</summary>
    public const int MaxReplyLines = 10_000;

    /// <summary>Parses a request line (without its LF); the error is null on success.</summary>
    public static ControlError? TryParse(ReadOnlySpan<byte> line, out ControlRequest? request)
    {
        request = null;
        if (line.Length > MaxRequestBytes) return ControlError.RequestTooLarge;
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        var words = new List<string>();
        while (!line.IsEmpty)
        {
            int space = line.IndexOf((byte)' ');
            var word = space < 0 ? line : line[..space];
            line = space < 0 ? default : line[(space + 1)..];
            if (word.IsEmpty) continue;
            foreach (var b in word)
                if (b <= 0x20 || b >= 0x7f) return ControlError.BadRequest;
            if (words.Count == MaxWords) return ControlError.BadRequest;
            words.Add(Encoding.ASCII.GetString(word));
        }
        if (words.Count == 0) return ControlError.BadRequest;
        request = new ControlRequest(words[0].ToLowerInvariant(), [.. words.Skip(1).Where(w => !w.StartsWith("--", StringComparison.Ordinal))],
            new HashSet<string>(words.Skip(1).Where(w => w.StartsWith("--", StringComparison.Ordinal)).Select(w => w[2..].ToLowerInvariant()), StringComparer.Ordinal));
        return null;
    }

    /// <summary>The wire name of an error kind.</summary>
    public static string Name(ControlError error) => error switch
    {
        ControlError.BadRequest => "bad-request",
        ControlError.RequestTooLarge => "request-too-large",
        ControlError.UnknownCommand => "unknown-command",
        ControlError.NotFound => "not-found",
        ControlError.NotAvailable => "not-available",
        ControlError.Busy => "busy",
        ControlError.Timeout => "timeout",
        _ => "failed",
    };

    /// <summary>Appends <paramref name="text"/> with control characters (and DEL, C1) written as <c>\xNN</c>.</summary>
    public static void AppendEscaped(StringBuilder sb, string text)
    {
        foreach (var c in text)
        {
            if (c >= ' ' && c != '\x7f' && !(c >= '\x80' && c < '\xa0') && c is not ('\u2028' or '\u2029')) sb.Append(c);
            else sb.Append("\\x").Append(((int)c).ToString(c > 0xFF ? "X4" : "X2", System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>A parsed control request: the command, its positional arguments and its <c>--flags</c> (names lower-case, without dashes).</summary>
public sealed record ControlRequest(string Command, IReadOnlyList<string> Arguments, IReadOnlySet<string> Flags);

/// <summary>Why a control request was not carried out.</summary>
public enum ControlError
{
    /// <summary>Not a request line (empty, control bytes, too many words) or wrong arguments.</summary>
    BadRequest,
    /// <summary>Longer than <see cref="ControlProtocol.MaxRequestBytes"/>.</summary>
    RequestTooLarge,
    /// <summary>No such command.</summary>
    UnknownCommand,
    /// <summary>The named extension, trunk or call does not exist.</summary>
    NotFound,
    /// <summary>The command does not apply to this phone system (e.g. <c>trunks</c> with Asterisk).</summary>
    NotAvailable,
    /// <summary>Too many control connections at once.</summary>
    Busy,
    /// <summary>The request line did not arrive in time.</summary>
    Timeout,
    /// <summary>The command failed.</summary>
    Failed,
}

/// <summary>A reply: success with body lines, or a typed error with a message.</summary>
public sealed class ControlReply
{
    private ControlReply(ControlError? error, string message, IReadOnlyList<string> lines)
    {
        Error = error;
        Message = message;
        Lines = lines;
    }

    /// <summary>Null for success.</summary>
    public ControlError? Error { get; }

    /// <summary>The error message (empty on success).</summary>
    public string Message { get; }

    /// <summary>The body lines.</summary>
    public IReadOnlyList<string> Lines { get; }

    /// <summary>A success with body lines.</summary>
    public static ControlReply Ok(IReadOnlyList<string> lines) => new(null, "", lines);

    /// <summary>A success with body lines.</summary>
    public static ControlReply Ok(params string[] lines) => new(null, "", lines);

    /// <summary>A typed error.</summary>
    public static ControlReply Fail(ControlError error, string message) => new(error, message, []);

    /// <summary>The reply as sent: status line, escaped body lines, each ending in LF.</summary>
    public string ToWire()
    {
        var sb = new StringBuilder();
        if (Error is { } e)
        {
            sb.Append("error ").Append(ControlProtocol.Name(e)).Append(": ");
            ControlProtocol.AppendEscaped(sb, Message);
            sb.Append('\n');
            return sb.ToString();
        }
        sb.Append("ok\n");
        int n = 0;
        foreach (var line in Lines)
        {
            if (++n > ControlProtocol.MaxReplyLines)
            {
                sb.Append($"... {Lines.Count - ControlProtocol.MaxReplyLines} more lines not shown\n");
                break;
            }
            ControlProtocol.AppendEscaped(sb, line);
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
