using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Switchboard.Diagnostics;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Interface.DialFiles;

/// <summary>
/// Executes *.CTI dial files dropped into a directory. A file is taken only when complete (unchanged for the settle
/// time and not open for writing by a local process), is moved into processing/ before its first line runs (so a crash
/// never runs it twice), then removed on success or moved to failed/ with a .log of every line's reply.
/// </summary>
public sealed partial class DialFileWatcher : IHostedService, IDisposable
{
    private readonly CommandInterpreter _interpreter;
    private readonly DialFileOptions _options;
    private readonly ILogger _log;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, (long Length, DateTime Mtime, DateTime FirstSeen)> _seen = new(StringComparer.Ordinal);
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private FileSystemWatcher? _watcher;
    private Task? _loop;
    private int _disposed;

    /// <summary>Creates the watcher for the configured directory.</summary>
    public DialFileWatcher(CommandInterpreter interpreter, IOptions<DialFileOptions> options, ILogger<DialFileWatcher>? log = null)
    {
        _interpreter = interpreter;
        _options = options.Value;
        _log = (ILogger?)log ?? NullLogger.Instance;
        DirectoryPath = Path.GetFullPath(_options.Directory);
    }

    /// <summary>The watched directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>Where files with a failing line go.</summary>
    public string FailedPath => Path.Combine(DirectoryPath, "failed");

    private string ProcessingPath => Path.Combine(DirectoryPath, "processing");

    /// <summary>Files executed so far (for status and tests).</summary>
    public int FilesProcessed { get; private set; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled) return Task.CompletedTask;
        System.IO.Directory.CreateDirectory(DirectoryPath);
        try
        {
            RecoverInterrupted();
        }
        catch (IOException ex)
        {
            // A planted failed/ link must not stop the server; the files stay in processing/ until it is fixed.
            LogRecoveryFailed(_log, ex.Message);
        }
        try
        {
            _watcher = new FileSystemWatcher(DirectoryPath) { IncludeSubdirectories = false };
            _watcher.Created += (_, _) => Wake();
            _watcher.Changed += (_, _) => Wake();
            _watcher.Renamed += (_, _) => Wake();
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            InterfaceLog.DialFilesNotWatched(_log, DirectoryPath, ex.Message, _options.ScanInterval);
        }
        _loop = RunAsync(_stopping.Token);
        InterfaceLog.DialFilesWatching(_log, DirectoryPath);
        return Task.CompletedTask;
    }

    /// <summary>Asks for a scan now.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ScanAsync(ct).ConfigureAwait(false);
                // A file that is still settling needs another look after the settle time even without notifications.
                var delay = _seen.Count > 0 && _options.SettleTime < _options.ScanInterval ? _options.SettleTime : _options.ScanInterval;
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var wake = _wake.Reader.WaitToReadAsync(wait.Token).AsTask();
                await Task.WhenAny(wake, Task.Delay(delay, wait.Token)).ConfigureAwait(false);
                wait.Cancel();
                _wake.Reader.TryRead(out _);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (IOException ex)
            {
                LogScanFailed(_log, DirectoryPath, ex.Message);
                await Task.Delay(_options.ScanInterval, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception ex)
            {
                InterfaceLog.DialFileScanFailed(_log, ex, DirectoryPath);
                await Task.Delay(_options.ScanInterval, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Scans once and executes every complete file.</summary>
    public async Task ScanAsync(CancellationToken ct = default)
    {
        var now = DateTime.UtcNow;
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in System.IO.Directory.EnumerateFiles(DirectoryPath).Order(StringComparer.Ordinal))
        {
            if (!path.EndsWith(".cti", StringComparison.OrdinalIgnoreCase)) continue;
            present.Add(path);
            // Type, size and time come from the opened handle: FileInfo would report a link's own size, and a FIFO or
            // /dev/zero behind a name must never be read.
            FileRefusal refusal;
            RegularFile.Stat stat;
            try
            {
                refusal = RegularFile.TryOpen(path, followLinks: false, out var handle, out stat);
                handle?.Dispose();
            }
            catch (IOException)
            {
                continue;
            }
            if (refusal == FileRefusal.Gone) continue;
            if (refusal != FileRefusal.None)
            {
                _seen.Remove(path);
                Refuse(path, refusal);
                continue;
            }
            var mtime = DateTime.UnixEpoch.AddTicks(stat.MtimeSeconds * TimeSpan.TicksPerSecond + stat.MtimeNanoseconds / 100);
            if (!_seen.TryGetValue(path, out var seen) || seen.Length != stat.Length || seen.Mtime != mtime)
            {
                _seen[path] = (stat.Length, mtime, now);
                continue;
            }
            if (now - seen.FirstSeen < _options.SettleTime) continue;
            if (OpenFileProbe.IsOpenForWriting(path)) continue;
            if (stat.Length == 0)
            {
                // A writer may create the file first and fill it later (and on a share we cannot see it): an empty
                // file is only given up on after a much longer wait, and then reported, never silently "executed".
                var patience = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(10).Ticks, _options.SettleTime.Ticks * 20));
                if (now - seen.FirstSeen < patience) continue;
                _seen.Remove(path);
                if (Take(path) is not { } empty) continue;
                MoveToFailed(empty, Path.GetFileName(path), $"400 empty dial file (nothing was written to it within {patience.TotalSeconds:0} s)\n");
                InterfaceLog.DialFileEmpty(_log, LogText.Escape(Path.GetFileName(path)), FailedPath);
                continue;
            }
            _seen.Remove(path);
            await ProcessAsync(path, ct).ConfigureAwait(false);
        }
        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList()) _seen.Remove(gone);
        _refused.RemoveWhere(k => !present.Contains(k));
    }

    /// <summary>Moves a file into processing/, where only the server can reach it; null when it cannot be taken yet.</summary>
    private string? Take(string path)
    {
        var name = Path.GetFileName(path);
        var working = Path.Combine(PrivateDirectory(ProcessingPath), name);
        try
        {
            File.Move(path, working, overwrite: true);
            return working;
        }
        catch (IOException ex)
        {
            InterfaceLog.DialFileNotYet(_log, LogText.Escape(name), ex.Message);
            return null;
        }
    }

    private async Task ProcessAsync(string path, CancellationToken ct)
    {
        var name = Path.GetFileName(path);
        if (Take(path) is not { } working) return;

        // Opened again inside processing/ (mode 0700): the entry that is read is the one that was moved, and nobody
        // else can swap it for a link any more.
        var refusal = RegularFile.TryOpen(working, followLinks: false, out var handle, out _);
        if (refusal != FileRefusal.None)
        {
            Refuse(working, refusal, name);
            return;
        }
        var log = new StringBuilder();
        bool failed = false;
        byte[]? content;
        using (handle)
        {
            content = RegularFile.ReadAtMost(handle!, _options.MaxFileBytes);
        }
        if (content is null)
        {
            failed = true;
            log.Append("400 file too large (more than ").Append(_options.MaxFileBytes).Append(" bytes); not executed\n");
        }
        else
        {
            var text = Encoding.Latin1.GetString(content);
            var context = new ClientContext(FrontEndKind.DialFile, null);
            int lineNo = 0;
            foreach (var raw in text.Split('\n'))
            {
                lineNo++;
                var line = raw.TrimEnd('\r');
                if (line.Trim().Length == 0) continue;
                var reply = await _interpreter.ExecuteAsync(line, context, ct).ConfigureAwait(false);
                if (!reply.IsSuccess) failed = true;
                log.Append(lineNo).Append(": ").Append(line).Append(" -> ").Append(reply.ToString()).Append('\n');
            }
        }
        FilesProcessed++;
        if (!failed)
        {
            File.Delete(working);
            InterfaceLog.DialFileDone(_log, LogText.Escape(name));
            return;
        }
        MoveToFailed(working, name, log.ToString());
        InterfaceLog.DialFileFailedLines(_log, LogText.Escape(name), FailedPath);
    }

    /// <summary>A link, FIFO or device under a dial-file name: removed unread (unlink never follows a link), and reported once.</summary>
    private void Refuse(string path, FileRefusal refusal, string? name = null)
    {
        name ??= Path.GetFileName(path);
        if (!_refused.Add(path)) return;
        var what = refusal switch
        {
            FileRefusal.SymbolicLink => "a symbolic link",
            FileRefusal.Fifo => "a named pipe (FIFO)",
            FileRefusal.Device => "a device",
            _ => "not a regular file",
        };
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left where it is (e.g. a sticky directory owned by someone else); _refused keeps it from being reported again.
        }
        WritePrivate(FailedLogPath(name), $"403 refused: {what}; dial files must be regular files. Removed without reading it.\n");
        LogRefused(_log, LogText.Escape(name), what);
    }

    private string FailedLogPath(string name)
    {
        var failed = PrivateDirectory(FailedPath);
        var target = Path.Combine(failed, name + ".log");
        if (File.Exists(target) || new FileInfo(target).LinkTarget is not null)
            target = Path.Combine(failed, $"{Path.GetFileNameWithoutExtension(name)}-{DateTime.UtcNow:yyyyMMddHHmmssfff}{Path.GetExtension(name)}.log");
        return target;
    }

    private void MoveToFailed(string working, string name, string log)
    {
        var failed = PrivateDirectory(FailedPath);
        var target = Path.Combine(failed, name);
        if (File.Exists(target) || new FileInfo(target).LinkTarget is not null)
            target = Path.Combine(failed, $"{Path.GetFileNameWithoutExtension(name)}-{DateTime.UtcNow:yyyyMMddHHmmssfff}{Path.GetExtension(name)}");
        File.Move(working, target);
        // A dial file may hold numbers and is the dropper's private business: owner-only, set through the handle so a
        // link cannot redirect the chmod.
        if (RegularFile.TryOpen(target, followLinks: false, out var handle, out _) == FileRefusal.None)
        {
            using (handle)
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(handle!, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        else
        {
            File.Delete(target);
        }
        WritePrivate(target + ".log", log);
    }

    /// <summary>Writes a new file readable by the owner only (an existing entry of that name, link or not, is replaced).</summary>
    private static void WritePrivate(string path, string text)
    {
        // Written under a hidden name and renamed into place (rename replaces the entry itself, a planted link too), so
        // whoever watches failed/ for a NAME.log (a batch job waiting for its result) never reads one half written.
        var temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temp, options))
            stream.Write(Encoding.UTF8.GetBytes(text));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>processing/ and failed/ are the server's own: a link planted in their place is refused, and they are 0700.</summary>
    private static string PrivateDirectory(string path)
    {
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null || File.Exists(path))
            throw new IOException($"{path} is not a directory of the server's own (a link or a file); remove it");
        if (OperatingSystem.IsWindows()) return System.IO.Directory.CreateDirectory(path).FullName;
        if (!info.Exists) System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private void RecoverInterrupted()
    {
        if (!System.IO.Directory.Exists(ProcessingPath)) return;
        foreach (var f in System.IO.Directory.EnumerateFiles(ProcessingPath))
        {
            var name = Path.GetFileName(f);
            InterfaceLog.DialFileInterrupted(_log, LogText.Escape(name));
            MoveToFailed(f, name, "500 the server stopped while this file was being executed; not re-run to avoid placing calls twice\n");
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_disposed != 0) return;
        _stopping.Cancel();
        _watcher?.Dispose();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _watcher?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 2562, Level = LogLevel.Error, Message = "Interrupted dial files could not be moved to failed/: {Error}")]
    private static partial void LogRecoveryFailed(ILogger log, string error);

    [LoggerMessage(EventId = 2563, Level = LogLevel.Error, Message = "Dial file scan of {Dir} failed: {Error}; retrying")]
    private static partial void LogScanFailed(ILogger log, string dir, string error);

    [LoggerMessage(EventId = 2561, Level = LogLevel.Warning, Message = "Dial file {File} refused: it is {What}; dial files must be regular files. Removed unread")]
    private static partial void LogRefused(ILogger log, string file, string what);
}
