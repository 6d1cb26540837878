using System.Diagnostics;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>The bounds every corpus asserts, in one place so the README can state them.</summary>
internal static class Bounds
{
    /// <summary>Longest reply line (without CRLF). Replies echo at most 40 characters of the input.</summary>
    public const int MaxReplyLength = 512;

    /// <summary>The reply codes of the contract; 500 is absent on purpose: hostile input must never reach an internal error.</summary>
    public static readonly int[] ReplyCodes = [200, 400, 403, 404, 408, 409, 480, 501, 503];

    /// <summary>Managed heap after a full collection, for the whole test process (all corpus classes run at once).</summary>
    public const long MaxManagedBytes = 128L * 1024 * 1024;

    /// <summary>Resident set of the whole test process.</summary>
    public const long MaxRssBytes = 512L * 1024 * 1024;

    /// <summary>
    /// Log text per hostile input, on average over a corpus. A scanner sends thousands of bad inputs a second; a
    /// log line for each (about 180 bytes today) is a disk-filling attack of its own.
    /// </summary>
    public const int MaxLogBytesPerInput = 32;

    /// <summary>Fails when a reply line is not <c>&lt;code&gt; &lt;text&gt;</c> with a known code, printable and bounded.</summary>
    public static void Reply(string line, string input)
    {
        Assert.True(line.Length <= MaxReplyLength, $"reply of {line.Length} chars to {Show(input)}: {Show(line)}");
        Assert.True(line.Length >= 4 && char.IsAsciiDigit(line[0]) && char.IsAsciiDigit(line[1]) && char.IsAsciiDigit(line[2]) && line[3] == ' ',
            $"reply '{Show(line)}' to {Show(input)} is not '<code> <text>'");
        int code = int.Parse(line.AsSpan(0, 3), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ReplyCodes.Contains(code), $"reply code {code} to {Show(input)}: {Show(line)}");
        foreach (var c in line)
            if (c is < ' ' or > '~') Assert.Fail($"reply to {Show(input)} holds U+{(int)c:X4}: {Show(line)}");
    }

    /// <summary>Fails when the process holds more memory than the caps.</summary>
    public static void Memory(string after)
    {
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        using var self = Process.GetCurrentProcess();
        long rss = self.WorkingSet64;
        // HOSTILE_MEMORY_LOG=<file> records every reading, for choosing and reporting the caps.
        if (Environment.GetEnvironmentVariable("HOSTILE_MEMORY_LOG") is { Length: > 0 } file)
            File.AppendAllText(file, $"{DateTime.UtcNow:HH:mm:ss.fff} managed={managed / 1048576} MB rss={rss / 1048576} MB after {after}\n");
        Assert.True(managed <= MaxManagedBytes, $"managed heap {managed / 1048576} MB after {after} (cap {MaxManagedBytes / 1048576} MB)");
        Assert.True(rss <= MaxRssBytes, $"RSS {rss / 1048576} MB after {after} (cap {MaxRssBytes / 1048576} MB)");
    }

    /// <summary>Fails on Error-level entries or entries with an exception.</summary>
    public static void NoErrors(CapturingLoggerProvider logs, Func<LogEntry, bool>? allowed = null)
    {
        var failures = logs.Failures(allowed);
        Assert.True(failures.Count == 0, $"{failures.Count} error log entries, first: "
            + string.Join("\n", failures.Take(3).Select(f => $"{f.Level} {f.Category}: {Show(f.Message)} {f.Exception}")));
    }

    /// <summary>
    /// Fails when the log grew by more than the per-input bound over a corpus. The audit line of an accepted command
    /// ("200 ...") is not counted: the bound is on what rejected, hostile input makes the server write.
    /// </summary>
    public static void LogVolume(CapturingLoggerProvider logs, int inputs, int perInput = MaxLogBytesPerInput)
    {
        var counted = logs.Entries.Where(e => !e.Message.StartsWith("200 ", StringComparison.Ordinal)).ToList();
        long bytes = counted.Sum(CapturingLoggerProvider.SizeOf);
        Assert.True(bytes <= (long)inputs * perInput,
            $"{bytes} bytes of log for {inputs} hostile inputs ({bytes / Math.Max(1, inputs)} per input, bound {perInput}); most frequent: "
            + string.Join(" | ", counted.GroupBy(e => e.Category + ": " + Show(e.Message, 60)).OrderByDescending(g => g.Count()).Take(3).Select(g => $"{g.Count()}x {g.Key}"))
            + "; by category: " + string.Join(" | ", counted.GroupBy(e => e.Category).OrderByDescending(g => g.Sum(CapturingLoggerProvider.SizeOf)).Take(3).Select(g => $"{g.Sum(CapturingLoggerProvider.SizeOf)} B in {g.Count()} from {g.Key}"))
            + "; largest: " + string.Join(" | ", counted.OrderByDescending(CapturingLoggerProvider.SizeOf).Take(3).Select(e => $"{CapturingLoggerProvider.SizeOf(e)} B {e.Category}: {Show(e.Message, 60)}")));
    }

    /// <summary>An input or reply shown safely in an assertion message.</summary>
    public static string Show(string s, int max = 120)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var c in s.Length > max ? s[..max] : s) sb.Append(c is >= ' ' and <= '~' ? c : $"\\x{(int)c:X2}");
        if (s.Length > max) sb.Append($"...({s.Length} chars)");
        return sb.ToString();
    }
}
