using System.Net;

namespace Switchboard.Switch.Security;

/// <summary>Why the throttle refused a request before its credentials were looked at.</summary>
public enum ThrottleRefusal
{
    /// <summary>Not refused.</summary>
    None,
    /// <summary>This user from this address is blocked after too many wrong answers.</summary>
    Blocked,
    /// <summary>This user had too many wrong answers in the last minute from all addresses together; this address has no recent success for it.</summary>
    UserCapped,
}

/// <summary>
/// Slows down password guessing, on monotonic time (<see cref="TimeProvider.GetTimestamp"/>, so a clock step changes
/// nothing):
/// <list type="bullet">
/// <item>per user and source address: after <see cref="FreeFailures"/> wrong answers the pair is blocked for
/// <see cref="BaseBlock"/>, doubling with each further failure up to <see cref="MaxBlock"/>; only a success or
/// <see cref="ForgetAfter"/> without failures ends the streak. A bad client behind an office NAT blocks only the
/// user it guesses, not the right password of another user from the same address;</item>
/// <item>per user across all addresses: at most <see cref="MaxFailuresPerUserPerMinute"/> wrong answers a minute; above
/// that only addresses where the user logged in lately (<see cref="KnownGoodFor"/>) may try, so a guesser with 250
/// addresses gets no more guesses than one with one, and the user's own phone keeps working;</item>
/// <item>per source address: a request rate limit (a token bucket of <see cref="RequestBurst"/> requests refilled at
/// <see cref="RequestsPerSecond"/>, as Kamailio's pike), so one address cannot try many user names fast.</item>
/// </list>
/// Every table is bounded (<see cref="MaxEntries"/>); when one is full of live entries, newcomers share one overflow
/// entry (per user, resp. one bucket), which throttles more, never less.
/// </summary>
public sealed class AuthThrottle(TimeProvider? time = null)
{
    /// <summary>The account key for user names that are no device (all of them share one entry per address).</summary>
    public const string UnknownUser = "";

    private static readonly IPAddress Overflow = IPAddress.IPv6None;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly object _gate = new();
    private readonly Dictionary<(string User, IPAddress Address), Streak> _streaks = [];
    private readonly Dictionary<string, UserState> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, Bucket> _buckets = [];

    /// <summary>Wrong answers of one user from one address before blocking starts.</summary>
    public int FreeFailures { get; init; } = 5;

    /// <summary>The first block time; it doubles per further failure.</summary>
    public TimeSpan BaseBlock { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest block time.</summary>
    public TimeSpan MaxBlock { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>A streak of failures is forgotten after this long without one (longer than <see cref="MaxBlock"/>).</summary>
    public TimeSpan ForgetAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Wrong answers per user per minute from all addresses together (0 = no cap).</summary>
    public int MaxFailuresPerUserPerMinute { get; init; } = 20;

    /// <summary>How long an address where a user logged in stays exempt from that user's cap.</summary>
    public TimeSpan KnownGoodFor { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Requests per second one address may send for authentication, sustained (0 = no limit).</summary>
    public double RequestsPerSecond { get; init; } = 10;

    /// <summary>Requests one address may send at once (a rebooting office behind one NAT registers in a burst).</summary>
    public int RequestBurst { get; init; } = 50;

    /// <summary>Most entries per table (user×address streaks, users, address buckets).</summary>
    public int MaxEntries { get; init; } = 10_000;

    private const int KnownGoodPerUser = 16;

    /// <summary>
    /// Takes one request of <paramref name="address"/> out of its bucket: false (with the time until the next one is
    /// due) when the address is over its rate; <paramref name="started"/> is true for the first refusal of a burst, so
    /// a flood logs one line, not one per request.
    /// </summary>
    public bool TryAdmit(IPAddress address, out TimeSpan retryAfter, out bool started)
    {
        retryAfter = TimeSpan.Zero;
        started = false;
        if (RequestsPerSecond <= 0) return true;
        address = Normalize(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (!_buckets.TryGetValue(address, out var b))
            {
                if (_buckets.Count >= MaxEntries) Sweep(_buckets, (_, v) => Refill(v, now) >= RequestBurst);
                if (_buckets.Count >= MaxEntries) address = Overflow;
                if (!_buckets.TryGetValue(address, out b))
                {
                    b = new Bucket { Tokens = RequestBurst, Stamp = now };
                    _buckets[address] = b;
                }
            }
            b.Tokens = Refill(b, now);
            b.Stamp = now;
            if (b.Tokens >= 1)
            {
                b.Tokens -= 1;
                b.Limited = false;
                return true;
            }
            retryAfter = TimeSpan.FromSeconds((1 - b.Tokens) / RequestsPerSecond);
            started = !b.Limited;
            b.Limited = true;
            return false;
        }
    }

    /// <summary>True (with the time left and the rule) while <paramref name="user"/> may not try from <paramref name="address"/>.</summary>
    public bool IsBlocked(string user, IPAddress address, out TimeSpan remaining, out ThrottleRefusal why)
    {
        remaining = TimeSpan.Zero;
        why = ThrottleRefusal.None;
        address = Normalize(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_streaks.TryGetValue((user, address), out var s) && s.BlockedUntil > now)
            {
                remaining = Elapsed(now, s.BlockedUntil);
                why = ThrottleRefusal.Blocked;
                return true;
            }
            if (MaxFailuresPerUserPerMinute > 0 && _users.TryGetValue(user, out var u))
            {
                Trim(u, now);
                if (u.Failures.Count >= MaxFailuresPerUserPerMinute && !IsKnownGood(u, address, now))
                {
                    remaining = Elapsed(now, u.Failures.Peek() + Ticks(TimeSpan.FromMinutes(1)));
                    why = ThrottleRefusal.UserCapped;
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>Records a wrong answer of <paramref name="user"/> from <paramref name="address"/>; returns the block time now in force (zero while still free).</summary>
    public TimeSpan Failure(string user, IPAddress address)
    {
        address = Normalize(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (MaxFailuresPerUserPerMinute > 0)
            {
                var u = UserOf(user, now);
                Trim(u, now);
                // Never more than the cap queued: the queue stays bounded and the count drains a minute after the burst.
                if (u.Failures.Count < MaxFailuresPerUserPerMinute) u.Failures.Enqueue(now);
            }
            var key = (user, address);
            if (!_streaks.TryGetValue(key, out var s))
            {
                if (_streaks.Count >= MaxEntries) Sweep(_streaks, (_, v) => v.BlockedUntil <= now && Elapsed(v.LastFailure, now) > ForgetAfter);
                if (_streaks.Count >= MaxEntries) key = (user, Overflow);
                if (!_streaks.TryGetValue(key, out s))
                {
                    s = new Streak();
                    _streaks[key] = s;
                }
            }
            else if (s.BlockedUntil <= now && Elapsed(s.LastFailure, now) > ForgetAfter)
            {
                s.Failures = 0;
            }
            s.LastFailure = now;
            s.Failures++;
            if (s.Failures <= FreeFailures) return TimeSpan.Zero;
            var exponent = Math.Min(s.Failures - FreeFailures - 1, 30);
            var block = TimeSpan.FromTicks(exponent >= 20 ? MaxBlock.Ticks : Math.Min(MaxBlock.Ticks, BaseBlock.Ticks << exponent));
            s.BlockedUntil = now + Ticks(block);
            return block;
        }
    }

    /// <summary>Records a correct answer: the pair starts afresh and the address is known good for the user.</summary>
    public void Success(string user, IPAddress address)
    {
        address = Normalize(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            _streaks.Remove((user, address));
            var u = UserOf(user, now);
            u.KnownGood[address] = now;
            if (u.KnownGood.Count > KnownGoodPerUser)
            {
                var oldest = u.KnownGood.MinBy(kv => kv.Value).Key;
                u.KnownGood.Remove(oldest);
            }
        }
    }

    /// <summary>Entries held now (streaks, users, buckets), for tests of the bounds.</summary>
    public (int Streaks, int Users, int Buckets) Counts
    {
        get
        {
            lock (_gate) return (_streaks.Count, _users.Count, _buckets.Count);
        }
    }

    private UserState UserOf(string user, long now)
    {
        if (_users.TryGetValue(user, out var u)) return u;
        if (_users.Count >= MaxEntries)
            Sweep(_users, (_, v) => { Trim(v, now); return v.Failures.Count == 0 && v.KnownGood.Values.All(t => Elapsed(t, now) > KnownGoodFor); });
        // Users are devices (or the one unknown-user key), so this bound is only a safety net.
        if (_users.Count >= MaxEntries && _users.TryGetValue(UnknownUser, out var shared)) return shared;
        u = new UserState();
        _users[user] = u;
        return u;
    }

    private bool IsKnownGood(UserState u, IPAddress address, long now) =>
        u.KnownGood.TryGetValue(address, out var t) && Elapsed(t, now) <= KnownGoodFor;

    private void Trim(UserState u, long now)
    {
        while (u.Failures.Count > 0 && Elapsed(u.Failures.Peek(), now) >= TimeSpan.FromMinutes(1)) u.Failures.Dequeue();
    }

    private double Refill(Bucket b, long now) => Math.Min(RequestBurst, b.Tokens + Elapsed(b.Stamp, now).TotalSeconds * RequestsPerSecond);

    private static void Sweep<TKey, TValue>(Dictionary<TKey, TValue> table, Func<TKey, TValue, bool> idle) where TKey : notnull
    {
        foreach (var (k, v) in table)
            if (idle(k, v)) table.Remove(k);
    }

    private TimeSpan Elapsed(long from, long to) => to <= from ? TimeSpan.Zero : _time.GetElapsedTime(from, to);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    private sealed class Streak
    {
        public int Failures;
        public long LastFailure;
        public long BlockedUntil;
    }

    private sealed class UserState
    {
        public readonly Queue<long> Failures = new();
        public readonly Dictionary<IPAddress, long> KnownGood = [];
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Stamp;
        public bool Limited;
    }
}
