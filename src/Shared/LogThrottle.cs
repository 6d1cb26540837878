using System.Net;
using Microsoft.Extensions.Logging;

namespace Switchboard.Diagnostics;

/// <summary>
/// Keeps a flood from one source from flooding the log: per (kind, source) the first <c>burst</c> warnings of an
/// interval are logged as they come, the rest are only counted, and one summary line per interval says how many were
/// left out. Linked as source into each assembly that needs it (as Kestrel shares its helpers), so the protocol
/// libraries need no common dependency.
/// </summary>
internal sealed partial class LogThrottle : IDisposable
{
    /// <summary>Sources tracked at once; beyond this, further sources share one entry so a spoofed-address flood stays bounded.</summary>
    public const int MaxSources = 1024;

    private static readonly IPAddress Others = IPAddress.None;

    private readonly ILogger _log;
    private readonly TimeSpan _interval;
    private readonly int _burst;
    private readonly Dictionary<(string Kind, IPAddress Source), Entry> _entries = [];
    private readonly ITimer _timer;

    /// <summary>Creates the throttle; its timer writes the summaries.</summary>
    public LogThrottle(ILogger log, TimeSpan? interval = null, int burst = 3, TimeProvider? time = null)
    {
        _log = log;
        _interval = interval ?? TimeSpan.FromSeconds(10);
        _burst = burst;
        _timer = (time ?? TimeProvider.System).CreateTimer(_ => Flush(), null, _interval, _interval);
    }

    /// <summary>
    /// Counts one occurrence; true when the caller should log it in full. <paramref name="kind"/> is a constant
    /// phrase ("malformed SIP messages"), never network data.
    /// </summary>
    public bool Allow(string kind, IPAddress source)
    {
        lock (_entries)
        {
            var key = (kind, source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source);
            if (!_entries.TryGetValue(key, out var e))
            {
                if (_entries.Count >= MaxSources)
                {
                    key = (kind, Others);
                    if (!_entries.TryGetValue(key, out e)) _entries[key] = e = new Entry();
                }
                else
                {
                    _entries[key] = e = new Entry();
                }
            }
            if (e.Logged < _burst && key.Item2 != Others)
            {
                e.Logged++;
                return true;
            }
            e.Suppressed++;
            return false;
        }
    }

    /// <summary>Writes one summary per (kind, source) that had warnings left out, and forgets quiet sources.</summary>
    public void Flush()
    {
        List<(string Kind, IPAddress Source, long Count)>? summaries = null;
        lock (_entries)
        {
            foreach (var (key, e) in _entries)
                if (e.Suppressed > 0) (summaries ??= []).Add((key.Kind, key.Source, e.Suppressed));
            _entries.Clear();
        }
        if (summaries is null) return;
        int seconds = (int)Math.Round(_interval.TotalSeconds);
        foreach (var (kind, source, count) in summaries)
        {
            if (source.Equals(Others)) LogSuppressedOthers(_log, count, kind, MaxSources, seconds);
            else LogSuppressed(_log, count, kind, source, seconds);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "{Count} more {Kind} from {Source} in the last {Seconds} s (not logged one by one)")]
    private static partial void LogSuppressed(ILogger log, long count, string kind, IPAddress source, int seconds);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "{Count} more {Kind} from sources beyond the first {Max} in the last {Seconds} s (not logged one by one)")]
    private static partial void LogSuppressedOthers(ILogger log, long count, string kind, int max, int seconds);

    private sealed class Entry
    {
        public int Logged;
        public long Suppressed;
    }
}
