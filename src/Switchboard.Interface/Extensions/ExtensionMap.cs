using System.Collections.Frozen;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Diagnostics;
using Switchboard.Interface.DialFiles;

namespace Switchboard.Interface.Extensions;

/// <summary>Why a line of FCTIIPEX.INI made the whole file unusable.</summary>
public readonly record struct IniParseError(int Line, string Reason);

/// <summary>
/// The FCTIIPEX.INI table that maps client IP addresses to extensions (for NNNNN). The file is re-read when it changes:
/// a watcher on that one file name reacts at once and a periodic check covers file systems that send no notifications.
/// A new version is taken only when complete (unchanged for the settle time, not open for writing, a regular file within
/// the size limit) and only as a whole: a file with one bad line is rejected and the previous mappings stay. It is
/// parsed by hand because IPv6 keys contain ':', the key separator of Microsoft.Extensions.Configuration.
/// </summary>
public sealed partial class ExtensionMap : IDisposable
{
    /// <summary>The file name of the table, matched case-insensitively.</summary>
    public const string DefaultFileName = "FCTIIPEX.INI";

    /// <summary>Default size limit: about 30,000 mappings, far more than any site has clients.</summary>
    public const long DefaultMaxFileBytes = 1024 * 1024;

    private readonly string? _configuredPath;
    private readonly string _directory;
    private readonly ILogger _log;
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer _poll;
    private readonly Timer _settle;
    private readonly TimeSpan _settleTime;
    private readonly long _maxFileBytes;
    private FrozenDictionary<IPAddress, string> _map = FrozenDictionary<IPAddress, string>.Empty;
    private string? _loadedPath;
    // The version last looked at (loaded or rejected), so a rejected file is not parsed and reported again every poll.
    private (string Path, long Length, long Mtime, long MtimeNs)? _attempted;
    private ((string Path, long Length, long Mtime, long MtimeNs) Stamp, long Since)? _pending;
    private string? _refusedPath;
    private readonly object _reloadGate = new();
    private long _checks;
    private long _wakeups;
    private int _disposed;

    /// <summary>Loads the table from <paramref name="path"/> (a file, or a directory to find FCTIIPEX.INI in) and watches it.</summary>
    public ExtensionMap(string path, TimeSpan? pollInterval = null, ILogger<ExtensionMap>? log = null,
        TimeSpan? settleTime = null, long maxFileBytes = DefaultMaxFileBytes)
    {
        _log = (ILogger?)log ?? NullLogger.Instance;
        _settleTime = settleTime ?? TimeSpan.FromMilliseconds(500);
        _maxFileBytes = maxFileBytes;
        _settle = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            _directory = full;
        }
        else
        {
            _configuredPath = full;
            _directory = Path.GetDirectoryName(full)!;
        }
        // At start-up the file is taken at once (unless a writer still has it open): nothing older is there to keep.
        Reload(startUp: true);
        if (Directory.Exists(_directory))
        {
            try
            {
                _watcher = new FileSystemWatcher(_directory) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size };
                // Only the table's own name wakes the watcher: the start directory also holds switchboard.db and its
                // WAL, written on every call. Other spellings of the name are found by the periodic check.
                foreach (var name in WatchedNames()) _watcher.Filters.Add(name);
                _watcher.Changed += (_, _) => Wake();
                _watcher.Created += (_, _) => Wake();
                _watcher.Deleted += (_, _) => Wake();
                _watcher.Renamed += (_, _) => Wake();
                _watcher.EnableRaisingEvents = true;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
            {
                InterfaceLog.ExtensionsNotWatched(_log, _directory, ex.Message);
            }
        }
        var interval = pollInterval ?? TimeSpan.FromSeconds(2);
        _poll = new Timer(_ => Reload(), null, interval, interval);
    }

    /// <summary>The file currently in use, or null when there is none.</summary>
    public string? FilePath => _loadedPath;

    /// <summary>Number of mappings.</summary>
    public int Count => _map.Count;

    /// <summary>How often the file was looked at (change notifications and periodic checks), for tests and status.</summary>
    public long Checks => Interlocked.Read(ref _checks);

    /// <summary>How many change notifications woke the table.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>The extension mapped to a client address (IPv4-mapped IPv6 addresses match their IPv4 entry).</summary>
    public string? Lookup(IPAddress address)
    {
        var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && a.ScopeId != 0) a = new IPAddress(a.GetAddressBytes());
        return _map.GetValueOrDefault(a);
    }

    private IEnumerable<string> WatchedNames()
    {
        if (_configuredPath is not null) return [Path.GetFileName(_configuredPath)];
        var names = new HashSet<string>(StringComparer.Ordinal) { DefaultFileName, DefaultFileName.ToLowerInvariant() };
        if (_loadedPath is not null) names.Add(Path.GetFileName(_loadedPath));
        return names;
    }

    private void Wake()
    {
        Interlocked.Increment(ref _wakeups);
        Reload();
    }

    /// <summary>Re-reads the file if it changed since the last load and is complete.</summary>
    public void Reload() => Reload(startUp: false);

    private void Reload(bool startUp)
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        lock (_reloadGate)
        {
            Interlocked.Increment(ref _checks);
            try
            {
                Check(startUp);
            }
            catch (IOException ex)
            {
                InterfaceLog.ExtensionsNotReadYet(_log, ex.Message);
            }
            catch (UnauthorizedAccessException ex)
            {
                InterfaceLog.ExtensionsUnreadable(_log, ex.Message);
            }
        }
    }

    private void Check(bool startUp)
    {
        var path = FindFile();
        if (path is null)
        {
            if (_loadedPath is not null || _map.Count > 0) InterfaceLog.ExtensionsRemoved(_log);
            _map = FrozenDictionary<IPAddress, string>.Empty;
            _loadedPath = null;
            _attempted = null;
            _pending = null;
            _refusedPath = null;
            return;
        }
        // The configured file may well be a link (to /etc, to a deployment); what it leads to must be a regular file,
        // opened without waiting (a FIFO in its place once blocked every later reload).
        var refusal = RegularFile.TryOpen(path, followLinks: true, out var handle, out var stat);
        if (refusal == FileRefusal.Gone) return;
        if (refusal != FileRefusal.None)
        {
            if (_refusedPath != path) LogNotRegular(_log, LogText.Escape(path), refusal, _map.Count);
            _refusedPath = path;
            return;
        }
        _refusedPath = null;
        using (handle)
        {
            var stamp = (path, stat.Length, stat.MtimeSeconds, stat.MtimeNanoseconds);
            if (_attempted == stamp) return;
            var now = Stopwatch.GetTimestamp();
            if (!startUp)
            {
                // The settle rule of dial files: a version must stay unchanged for the settle time, so a half-written
                // file (NNNNN mapped to "10" of "105") is never taken, also from writers on other machines of a share.
                if (_pending is not { } p || p.Stamp != stamp)
                {
                    _pending = (stamp, now);
                    _settle.Change(_settleTime + TimeSpan.FromMilliseconds(10), Timeout.InfiniteTimeSpan);
                    return;
                }
                if (Stopwatch.GetElapsedTime(p.Since, now) < _settleTime)
                {
                    _settle.Change(_settleTime - Stopwatch.GetElapsedTime(p.Since, now) + TimeSpan.FromMilliseconds(10), Timeout.InfiniteTimeSpan);
                    return;
                }
            }
            if (OpenFileProbe.IsOpenForWriting(path))
            {
                _settle.Change(_settleTime, Timeout.InfiniteTimeSpan);
                return;
            }
            _pending = null;
            _attempted = stamp;
            var bytes = stat.Length > _maxFileBytes ? null : RegularFile.ReadAtMost(handle!, _maxFileBytes);
            if (bytes is null)
            {
                LogTooLarge(_log, LogText.Escape(path), _maxFileBytes, _map.Count);
                return;
            }
            if (!TryParse(bytes, out var map, out var error))
            {
                LogRejected(_log, LogText.Escape(path), error.Line, error.Reason, _map.Count);
                return;
            }
            _map = map.ToFrozenDictionary();
            _loadedPath = path;
            if (_map.Count == 0) LogLoadedNone(_log, LogText.Escape(path));
            else InterfaceLog.ExtensionsLoaded(_log, _map.Count, LogText.Escape(path));
        }
    }

    /// <summary>
    /// Parses a whole file: every line must be empty, a comment, a [section] or key=value, and every entry of
    /// [Extensions] an IP address and an extension number. The first line that is not gives the error and no map.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> content, out Dictionary<IPAddress, string> map, out IniParseError error)
    {
        map = [];
        error = default;
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            error = new IniParseError(LineOf(content, content.Length), "not text (invalid UTF-8)");
            return false;
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        bool inSection = false;
        int lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            if (ParseLine(raw, ref inSection, map) is { } reason)
            {
                map = [];
                error = new IniParseError(lineNo, reason);
                return false;
            }
        }
        return true;
    }

    private static int LineOf(ReadOnlySpan<byte> content, int upTo)
    {
        int line = 1;
        foreach (var b in content[..upTo]) if (b == '\n') line++;
        return line;
    }

    /// <summary>One line; returns why it is bad, or null.</summary>
    private static string? ParseLine(ReadOnlySpan<char> raw, ref bool inSection, Dictionary<IPAddress, string> map)
    {
        var line = raw.Trim();
        if (line.IsEmpty || line[0] is ';' or '#') return null;
        foreach (var c in line)
            if (char.IsControl(c) && c != '\t') return "control character in the line";
        if (line[0] == '[')
        {
            if (line[^1] != ']') return "section header without ']'";
            inSection = line.Equals("[Extensions]", StringComparison.OrdinalIgnoreCase);
            return null;
        }
        int eq = line.IndexOf('=');
        if (eq <= 0) return "expected <address>=<extension>";
        if (!inSection) return null;
        var key = line[..eq].Trim();
        var value = line[(eq + 1)..].Trim();
        if (!IPAddress.TryParse(key, out var address)) return $"'{LogText.Escape(key.ToString(), 64)}' is not an IP address";
        if (!Commands.NumberFormat.IsExtension(value)) return $"'{LogText.Escape(value.ToString(), 64)}' is not an extension number";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        map[address] = value.ToString();
        return null;
    }

    private string? FindFile()
    {
        if (_configuredPath is not null) return Path.Exists(_configuredPath) ? _configuredPath : null;
        if (!Directory.Exists(_directory)) return null;
        foreach (var f in Directory.EnumerateFileSystemEntries(_directory))
            if (Path.GetFileName(f).Equals(DefaultFileName, StringComparison.OrdinalIgnoreCase)) return f;
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _watcher?.Dispose();
        _poll?.Dispose();
        _settle.Dispose();
    }

    [LoggerMessage(EventId = 2571, Level = LogLevel.Warning,
        Message = "{Path}:{Line}: {Reason}; the whole file is rejected and the previous {Count} IP-to-extension mappings stay in use")]
    private static partial void LogRejected(ILogger log, string path, int line, string reason, int count);

    [LoggerMessage(EventId = 2572, Level = LogLevel.Warning,
        Message = "{Path} is larger than {Limit} bytes; not read, the previous {Count} IP-to-extension mappings stay in use")]
    private static partial void LogTooLarge(ILogger log, string path, long limit, int count);

    [LoggerMessage(EventId = 2573, Level = LogLevel.Warning,
        Message = "{Path} is not a regular file ({Kind}); ignored, the previous {Count} IP-to-extension mappings stay in use")]
    private static partial void LogNotRegular(ILogger log, string path, FileRefusal kind, int count);

    [LoggerMessage(EventId = 2574, Level = LogLevel.Warning,
        Message = "{Path} has no entries in [Extensions]; NNNNN now matches no client")]
    private static partial void LogLoadedNone(ILogger log, string path);
}
