using System.Collections.Concurrent;

namespace Switchboard.Telephony;

/// <summary>Toll-fraud rules for calls to outside numbers (configuration section "OutsideCalls").</summary>
public sealed class OutsideCallOptions
{
    /// <summary>Devices that may call outside at all; "*" for every device.</summary>
    public List<string> AllowedDevices { get; set; } = ["*"];

    /// <summary>The home country code: +CC… and 00CC… are national calls, other + and 00 numbers international.</summary>
    public string CountryCode { get; set; } = "49";

    /// <summary>
    /// Prefixes refused (in national form, "00" meaning any international number). Default: international numbers and
    /// German premium-rate, mass-call and directory-assistance ranges, the usual targets of toll fraud.
    /// </summary>
    public List<string> DeniedPrefixes { get; set; } = ["00", "0900", "0137", "0138", "0180", "0190", "118"];

    /// <summary>Prefixes allowed although a shorter denied prefix matches (the longest matching prefix decides).</summary>
    public List<string> AllowedPrefixes { get; set; } = [];

    /// <summary>Most outside calls one device may start per minute (0 = unlimited).</summary>
    public int MaxCallsPerDevicePerMinute { get; set; } = 10;
}

/// <summary>Decides whether a device may call an outside number; a refusal names the rule that refused it.</summary>
public sealed class OutsideCallPolicy(OutsideCallOptions options, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Queue<long>> _recent = new(StringComparer.Ordinal);

    /// <summary>Allows everything: for tools and tests that need no policy.</summary>
    public static OutsideCallPolicy Open => new(new OutsideCallOptions { DeniedPrefixes = [], MaxCallsPerDevicePerMinute = 0 });

    /// <summary>The number in national form used for prefix rules: +49 89… → 089…, 0049… → 0…, +1… → 001….</summary>
    public string National(string number)
    {
        var cc = options.CountryCode;
        if (number.StartsWith('+'))
            return number[1..].StartsWith(cc, StringComparison.Ordinal) ? "0" + number[(1 + cc.Length)..] : "00" + number[1..];
        if (number.StartsWith("00" + cc, StringComparison.Ordinal)) return "0" + number[(2 + cc.Length)..];
        return number;
    }

    /// <summary>
    /// Null when the call may go out, else the refusal text. The number is normalised first (<see cref="DialString"/>,
    /// %-escapes undone), so <c>0-0-1-900…</c> is judged as <c>001900…</c>; anything that is not digits with an optional
    /// leading '+' afterwards is refused rather than passed on. With <paramref name="count"/> the attempt counts against
    /// the device's rate limit whatever the outcome, so refused numbers cannot be probed without limit.
    /// </summary>
    public string? Check(string device, string number, bool count = true)
    {
        if (!options.AllowedDevices.Contains("*") && !options.AllowedDevices.Contains(device))
            return $"{device} may not call outside numbers (OutsideCalls:AllowedDevices)";
        if (count && CountAttempt(device) is { } limited) return limited;
        if (!DialString.TryNormalizeOutsideNumber(number, out var normalised, out var error))
            return $"{Shown(number)} is not a dialable outside number ({error})";
        var national = National(normalised);
        var denied = Longest(options.DeniedPrefixes, national);
        var allowed = Longest(options.AllowedPrefixes, national);
        if (denied is not null && (allowed is null || allowed.Length < denied.Length))
            return $"{normalised} is blocked by OutsideCalls:DeniedPrefixes (prefix {denied})";
        return null;
    }

    /// <summary>
    /// Counts one outside-call attempt of a device (also one that fails later, e.g. for want of a trunk); null while
    /// the device is under OutsideCalls:MaxCallsPerDevicePerMinute, else the refusal. A refused attempt is not queued,
    /// so the queue never holds more than the limit.
    /// </summary>
    public string? CountAttempt(string device)
    {
        if (options.MaxCallsPerDevicePerMinute <= 0) return null;
        var q = _recent.GetOrAdd(device, _ => new Queue<long>());
        lock (q)
        {
            while (q.Count > 0 && _time.GetElapsedTime(q.Peek()) >= TimeSpan.FromMinutes(1)) q.Dequeue();
            if (q.Count >= options.MaxCallsPerDevicePerMinute)
                return $"{device} has tried {q.Count} outside calls in the last minute (OutsideCalls:MaxCallsPerDevicePerMinute)";
            q.Enqueue(_time.GetTimestamp());
        }
        return null;
    }

    /// <summary>A number as it may appear in a refusal: printable ASCII, at most 40 characters.</summary>
    private static string Shown(string number)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var c in number.Length > 40 ? number[..40] : number) sb.Append(DialString.Printable(c));
        if (number.Length > 40) sb.Append('…');
        return sb.ToString();
    }

    private static string? Longest(List<string> prefixes, string number)
    {
        string? best = null;
        foreach (var p in prefixes)
            if (number.StartsWith(p, StringComparison.Ordinal) && (best is null || p.Length > best.Length)) best = p;
        return best;
    }
}
