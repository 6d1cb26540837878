using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Interface.DialFiles;

/// <summary>
/// Executes *.CTI dial files dropped into a directory. A file is taken only when complete (unchanged for the settle
/// time and not open for writing by a local process), is moved into processing/ before its first line runs (so a crash
/// never runs it twice), then removed on success or moved to failed/ with a .log of every line's reply.
/// </summary>
public sealed class DialFileWatcher : IHostedService, IDisposable
{
    private readonly CommandInterpreter _interpreter;
    private readonly DialFileOptions _options;
    private readonly ILogger _log;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, (long Length, DateTime Mtime, DateTime FirstSeen)> _seen = new(StringComparer.Ordinal);
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
        RecoverInterrupted();
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
            _log.LogWarning("No change notifications for {Dir} ({Error}); scanning every {Interval}", DirectoryPath, ex.Message, _options.ScanInterval);
        }
        _loop = RunAsync(_stopping.Token);
        _log.LogInformation("Watching {Dir} for *.CTI dial files", DirectoryPath);
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
            catch (Exception ex)
            {
                _log.LogError(ex, "Dial file scan of {Dir} failed; retrying", DirectoryPath);
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
            FileInfo info;
            try
            {
                info = new FileInfo(path);
                if (!info.Exists) continue;
            }
            catch (IOException)
            {
                continue;
            }
            var stamp = (info.Length, info.LastWriteTimeUtc);
            if (!_seen.TryGetValue(path, out var seen) || seen.Length != stamp.Length || seen.Mtime != stamp.LastWriteTimeUtc)
            {
                _seen[path] = (stamp.Length, stamp.LastWriteTimeUtc, now);
                continue;
            }
            if (now - seen.FirstSeen < _options.SettleTime) continue;
            if (OpenFileProbe.IsOpenForWriting(path)) continue;
            if (stamp.Length == 0)
            {
                // A writer may create the file first and fill it later (and on a share we cannot see it): an empty
                // file is only given up on after a much longer wait, and then reported, never silently "executed".
                var patience = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(10).Ticks, _options.SettleTime.Ticks * 20));
                if (now - seen.FirstSeen < patience) continue;
                _seen.Remove(path);
                System.IO.Directory.CreateDirectory(ProcessingPath);
                var working = Path.Combine(ProcessingPath, Path.GetFileName(path));
                File.Move(path, working, overwrite: true);
                MoveToFailed(working, Path.GetFileName(path), $"400 empty dial file (nothing was written to it within {patience.TotalSeconds:0} s)\n");
                _log.LogWarning("Dial file {File} stayed empty; moved to {Failed}", Path.GetFileName(path), FailedPath);
                continue;
            }
            _seen.Remove(path);
            await ProcessAsync(path, info.Length, ct).ConfigureAwait(false);
        }
        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList()) _seen.Remove(gone);
    }

    private async Task ProcessAsync(string path, long length, CancellationToken ct)
    {
        var name = Path.GetFileName(path);
        System.IO.Directory.CreateDirectory(ProcessingPath);
        var working = Path.Combine(ProcessingPath, name);
        try
        {
            File.Move(path, working, overwrite: true);
        }
        catch (IOException ex)
        {
            _log.LogWarning("Dial file {File} cannot be taken yet: {Error}", name, ex.Message);
            return;
        }

        var log = new StringBuilder();
        bool failed = false;
        if (length > _options.MaxFileBytes)
        {
            failed = true;
            log.Append("400 file too large (").Append(length).Append(" bytes; at most ").Append(_options.MaxFileBytes).Append("); not executed\n");
        }
        else
        {
            string text;
            try
            {
                text = File.ReadAllText(working, Encoding.Latin1);
            }
            catch (IOException ex)
            {
                text = "";
                failed = true;
                log.Append("500 cannot read file: ").Append(ex.Message).Append('\n');
            }
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
            _log.LogInformation("Dial file {File} executed and removed", name);
            return;
        }
        MoveToFailed(working, name, log.ToString());
        _log.LogWarning("Dial file {File} had failing lines; moved to {Failed}", name, FailedPath);
    }

    private void MoveToFailed(string working, string name, string log)
    {
        System.IO.Directory.CreateDirectory(FailedPath);
        var target = Path.Combine(FailedPath, name);
        if (File.Exists(target))
            target = Path.Combine(FailedPath, $"{Path.GetFileNameWithoutExtension(name)}-{DateTime.UtcNow:yyyyMMddHHmmssfff}{Path.GetExtension(name)}");
        File.Move(working, target);
        File.WriteAllText(target + ".log", log);
    }

    private void RecoverInterrupted()
    {
        if (!System.IO.Directory.Exists(ProcessingPath)) return;
        foreach (var f in System.IO.Directory.EnumerateFiles(ProcessingPath))
        {
            var name = Path.GetFileName(f);
            _log.LogWarning("Dial file {File} was being executed when the server stopped; moved to failed/ and not re-run (its first lines may already have run)", name);
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
}
