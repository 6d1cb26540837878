using System.Buffers;

namespace Switchboard.Diagnostics;

/// <summary>Makes network data safe to put into a log line: one line, no terminal escapes, bounded length.</summary>
internal static class LogText
{
    /// <summary>Longest escaped value written; a log line must not grow with what a peer sends.</summary>
    public const int MaxLength = 200;

    private static readonly SearchValues<char> Plain = SearchValues.Create(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>
    /// The value with CR, LF, ESC, other control characters, non-ASCII and backslash written as <c>\xNN</c>, cut at
    /// <paramref name="maxLength"/> characters (<see cref="MaxLength"/> unless a caller quotes a value inside a longer
    /// message). Unchanged (no copy) when it is already plain and short.
    /// </summary>
    public static string Escape(string? value, int maxLength = MaxLength)
    {
        if (value is null) return "";
        var span = value.AsSpan();
        if (span.Length <= maxLength && !span.ContainsAnyExcept(Plain)) return value;
        var sb = new System.Text.StringBuilder(Math.Min(span.Length, maxLength) + 16);
        foreach (var c in span)
        {
            if (sb.Length >= maxLength)
            {
                sb.Append("...");
                break;
            }
            if (Plain.Contains(c)) sb.Append(c);
            else if (c <= 0xFF) sb.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
