using System.Text;

namespace Switchboard.Interface.DialFiles;

/// <summary>Makes names and text from files safe to put in a log line: control characters become visible escapes.</summary>
internal static class LogText
{
    /// <summary>ESC, CR, LF and every other control character as \xNN (\r, \n, \t spelled out), so a file name cannot forge
    /// log lines or send terminal escape sequences to whoever tails the log.</summary>
    public static string Escape(string text, int maxLength = 256)
    {
        bool clean = text.Length <= maxLength;
        foreach (var c in text)
            if (char.IsControl(c) || c == '\\') { clean = false; break; }
        if (clean) return text;
        var sb = new StringBuilder(Math.Min(text.Length, maxLength) + 16);
        foreach (var c in text)
        {
            if (sb.Length >= maxLength)
            {
                sb.Append("...");
                break;
            }
            switch (c)
            {
                case '\r': sb.Append("\\r"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }
}
