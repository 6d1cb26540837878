using System.Collections.Frozen;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Interface.Extensions;

/// <summary>
/// The FCTIIPEX.INI table that maps client IP addresses to extensions (for NNNNN). The file is re-read when it changes:
/// a watcher reacts at once and a periodic check covers file systems that send no notifications. It is parsed by hand
/// because IPv6 keys contain ':', the key separator of Microsoft.Extensions.Configuration.
/// </summary>
public sealed class ExtensionMap : IDisposable
{
    /// <summary>The file name of the table, matched case-insensitively.</summary>
    public const string DefaultFileName = "FCTIIPEX.INI";

    private readonly string? _configuredPath;
    private readonly string _directory;
    private readonly ILogger _log;
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer _poll;
    private FrozenDictionary<IPAddress, string> _map = FrozenDictionary<IPAddress, string>.Empty;
    private (string? Path, DateTime Mtime, long Length) _loaded;
    private readonly object _reloadGate = new();

    /// <summary>Loads the table from <paramref name="path"/> (a file, or a directory to find FCTIIPEX.INI in) and watches it.</summary>
    public ExtensionMap(string path, TimeSpan? pollInterval = null, ILogger<ExtensionMap>? log = null)
    {
        _log = (ILogger?)log ?? NullLogger.Instance;
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
        Reload();
        if (Directory.Exists(_directory))
        {
            try
            {
                _watcher = new FileSystemWatcher(_directory) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size };
                _watcher.Changed += (_, _) => Reload();
                _watcher.Created += (_, _) => Reload();
                _watcher.Deleted += (_, _) => Reload();
                _watcher.Renamed += (_, _) => Reload();
                _watcher.EnableRaisingEvents = true;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
            {
                _log.LogWarning("Cannot watch {Dir} for FCTIIPEX.INI changes ({Error}); polling only", _directory, ex.Message);
            }
        }
        var interval = pollInterval ?? TimeSpan.FromSeconds(2);
        _poll = new Timer(_ => Reload(), null, interval, interval);
    }

    /// <summary>The file currently in use, or null when there is none.</summary>
    public string? FilePath => _loaded.Path;

    /// <summary>Number of mappings.</summary>
    public int Count => _map.Count;

    /// <summary>The extension mapped to a client address (IPv4-mapped IPv6 addresses match their IPv4 entry).</summary>
    public string? Lookup(IPAddress address)
    {
        var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && a.ScopeId != 0) a = new IPAddress(a.GetAddressBytes());
        return _map.GetValueOrDefault(a);
    }

    /// <summary>Re-reads the file if it changed since the last load.</summary>
    public void Reload()
    {
        lock (_reloadGate)
        {
            try
            {
                var path = FindFile();
                if (path is null)
                {
                    if (_loaded.Path is not null || _map.Count > 0) _log.LogInformation("FCTIIPEX.INI removed; no IP-to-extension mappings");
                    _map = FrozenDictionary<IPAddress, string>.Empty;
                    _loaded = default;
                    return;
                }
                var info = new FileInfo(path);
                if (_loaded.Path == path && _loaded.Mtime == info.LastWriteTimeUtc && _loaded.Length == info.Length) return;
                var text = File.ReadAllText(path);
                _map = Parse(text, path, _log).ToFrozenDictionary();
                _loaded = (path, info.LastWriteTimeUtc, info.Length);
                _log.LogInformation("Loaded {Count} IP-to-extension mappings from {Path}", _map.Count, path);
            }
            catch (IOException ex)
            {
                _log.LogWarning("Cannot read FCTIIPEX.INI yet ({Error}); keeping the previous mappings", ex.Message);
            }
            catch (UnauthorizedAccessException ex)
            {
                _log.LogError("Cannot read FCTIIPEX.INI: {Error}", ex.Message);
            }
        }
    }

    /// <summary>Parses the [Extensions] section; bad lines are logged and skipped.</summary>
    public static Dictionary<IPAddress, string> Parse(string text, string source, ILogger? log = null)
    {
        var map = new Dictionary<IPAddress, string>();
        bool inSection = false;
        int lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = raw.Trim();
            if (line.IsEmpty || line[0] is ';' or '#') continue;
            if (line[0] == '[')
            {
                inSection = line.Equals("[Extensions]", StringComparison.OrdinalIgnoreCase);
                continue;
            }
            if (!inSection) continue;
            int eq = line.IndexOf('=');
            if (eq <= 0)
            {
                log?.LogWarning("{Source}:{Line}: expected <address>=<extension>, ignored", source, lineNo);
                continue;
            }
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (!IPAddress.TryParse(key, out var address))
            {
                log?.LogWarning("{Source}:{Line}: '{Key}' is not an IP address, ignored", source, lineNo, key.ToString());
                continue;
            }
            if (!Commands.NumberFormat.IsExtension(value))
            {
                log?.LogWarning("{Source}:{Line}: '{Value}' is not an extension number, ignored", source, lineNo, value.ToString());
                continue;
            }
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            map[address] = value.ToString();
        }
        return map;
    }

    private string? FindFile()
    {
        if (_configuredPath is not null) return File.Exists(_configuredPath) ? _configuredPath : null;
        if (!Directory.Exists(_directory)) return null;
        foreach (var f in Directory.EnumerateFiles(_directory))
            if (Path.GetFileName(f).Equals(DefaultFileName, StringComparison.OrdinalIgnoreCase)) return f;
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _watcher?.Dispose();
        _poll.Dispose();
    }
}
