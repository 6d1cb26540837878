using System.Collections.Concurrent;
using System.Net;

namespace Switchboard.Switch.Security;

/// <summary>
/// Slows down password guessing per source address: after <see cref="FreeFailures"/> wrong answers within the window,
/// the address is refused for a block time that doubles with each further failure (capped). A scanner gets a handful
/// of tries per minute instead of thousands; a phone with a typo recovers once the block time has passed.
/// </summary>
public sealed class AuthThrottle(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<IPAddress, Entry> _entries = new();

    /// <summary>Wrong answers allowed before blocking starts.</summary>
    public int FreeFailures { get; init; } = 5;

    /// <summary>The window in which failures are counted.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The first block time; it doubles per further failure.</summary>
    public TimeSpan BaseBlock { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest block time.</summary>
    public TimeSpan MaxBlock { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>True (with the time left) while the address is blocked.</summary>
    public bool IsBlocked(IPAddress address, out TimeSpan remaining)
    {
        remaining = TimeSpan.Zero;
        if (!_entries.TryGetValue(Normalize(address), out var e)) return false;
        lock (e)
        {
            var now = _time.GetUtcNow();
            if (e.BlockedUntil <= now) return false;
            remaining = e.BlockedUntil - now;
            return true;
        }
    }

    /// <summary>Records a wrong answer; returns the block time now in force (zero while still free).</summary>
    public TimeSpan Failure(IPAddress address)
    {
        var e = _entries.GetOrAdd(Normalize(address), _ => new Entry());
        lock (e)
        {
            var now = _time.GetUtcNow();
            if (now - e.WindowStart > Window && e.BlockedUntil <= now)
            {
                e.WindowStart = now;
                e.Failures = 0;
            }
            e.Failures++;
            if (e.Failures <= FreeFailures) return TimeSpan.Zero;
            var exponent = Math.Min(e.Failures - FreeFailures - 1, 16);
            var block = TimeSpan.FromTicks(Math.Min(MaxBlock.Ticks, BaseBlock.Ticks << exponent));
            e.BlockedUntil = now + block;
            return block;
        }
    }

    /// <summary>Records a correct answer: the address starts afresh.</summary>
    public void Success(IPAddress address) => _entries.TryRemove(Normalize(address), out _);

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    private sealed class Entry
    {
        public DateTimeOffset WindowStart;
        public int Failures;
        public DateTimeOffset BlockedUntil;
    }
}
