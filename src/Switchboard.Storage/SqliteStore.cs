using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Telephony;

namespace Switchboard.Storage;

/// <summary>Settings of the SQLite store.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>How long a write waits for a database locked by another process before the command gets 503.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the database file is checked for having been deleted or replaced while open.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The SIP passwords' own database; null puts it beside the main one as NAME-secrets.db.</summary>
    public string? SecretsPath { get; set; }

    /// <summary>A main database that fails the integrity check at start is moved aside and a new one begun (the secrets file is kept).</summary>
    public bool ResetIfDamaged { get; set; }
}

/// <summary>The database failed its integrity check at start (or is no database at all).</summary>
public sealed class StoreDamagedException(string path, string detail, bool isSecrets, Exception? inner = null)
    : Exception($"{path}: {detail}", inner)
{
    /// <summary>The damaged file.</summary>
    public string Path { get; } = path;

    /// <summary>What SQLite said.</summary>
    public string Detail { get; } = detail;

    /// <summary>True when the damaged file is the SIP passwords' database, which a reset does not touch.</summary>
    public bool IsSecrets { get; } = isSecrets;
}

/// <summary>
/// SQLite store (WAL) for forwarding/DND settings and the call journal. Changes are queued to one writer that commits them
/// in order, in batches, so callers holding the call model's lock never wait for the disk or a database lock; a forwarding
/// change's task completes only once it is committed, so a crash or kill -9 after the reply loses nothing acknowledged.
/// The SIP passwords live in a database file of their own (<see cref="SqliteSecretStore"/>), so resetting a damaged main
/// database keeps them.
/// </summary>
public sealed partial class SqliteStore : IForwardingStore, ICallJournal, IPhoneBindingStore, IDeviceSecretStore, IDisposable
{
    private const int MaxQueued = 10_000;
    private const int MaxBatch = 256;
    private const int SchemaVersion = 2;
    private readonly SqliteConnection _db;
    private readonly object _gate = new();
    private readonly string _path;
    private readonly SqliteStoreOptions _options;
    private readonly SqliteSecretStore _secrets;
    private readonly Channel<Op> _queue = Channel.CreateBounded<Op>(new BoundedChannelOptions(MaxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Task _writer;
    private readonly Timer _check;
    private readonly FileIdentity? _identity;
    private volatile string? _lost;
    private readonly string? _resetDetail;
    private long _dropped;
    private long _lastDropReport;

    /// <summary>Opens (creating if needed) the database file; throws <see cref="StoreDamagedException"/> when it fails its integrity check.</summary>
    public SqliteStore(string path, SqliteStoreOptions? options = null, ILogger? log = null)
    {
        _options = options ?? new SqliteStoreOptions();
        Log = log ?? NullLogger.Instance;
        _path = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(_path);
        if (dir is not null) Directory.CreateDirectory(dir);
        var secretsPath = Path.GetFullPath(_options.SecretsPath ?? DefaultSecretsPath(_path));
        // The passwords first: whatever happens to the journal below, they are opened and checked on their own.
        _secrets = new SqliteSecretStore(secretsPath, _options.BusyTimeout);
        try
        {
            _db = OpenChecked(_path, _options.BusyTimeout);
        }
        catch (StoreDamagedException damaged) when (_options.ResetIfDamaged)
        {
            ResetDone = MoveAside(_path);
            _resetDetail = damaged.Detail;
            _db = OpenChecked(_path, _options.BusyTimeout);
        }
        catch
        {
            _secrets.Dispose();
            throw;
        }
        _identity = FileIdentity.Of(_path);
        Exec("""
            CREATE TABLE IF NOT EXISTS forwarding(device TEXT PRIMARY KEY, mode TEXT NOT NULL, target TEXT);
            CREATE TABLE IF NOT EXISTS calls(
                id INTEGER PRIMARY KEY, calling TEXT NOT NULL, called TEXT NOT NULL,
                started TEXT NOT NULL, answered TEXT, answered_by TEXT, ended TEXT, outcome TEXT);
            CREATE TABLE IF NOT EXISTS bindings(
                device TEXT NOT NULL, contact TEXT NOT NULL, expires TEXT NOT NULL, transport TEXT NOT NULL,
                source TEXT NOT NULL, call_id TEXT, user_agent TEXT, PRIMARY KEY(device, contact));
            """);
        MigrateSecrets();
        MigrateOutcomeNames();
        // Calls that were up when the server last stopped cannot be up now.
        var now = Iso(DateTimeOffset.UtcNow);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "UPDATE calls SET ended=$now, outcome='interrupted' WHERE ended IS NULL";
        cmd.Parameters.AddWithValue("$now", now);
        InterruptedOnStart = cmd.ExecuteNonQuery();
        _writer = Task.Run(WriteLoop);
        _check = new Timer(_ => CheckFile(), null, _options.CheckInterval, _options.CheckInterval);
        if (log is not null) AttachLog(log);
    }

    /// <summary>Where problems are reported.</summary>
    public ILogger Log { get; private set; }

    /// <summary>Reports to <paramref name="log"/> from now on (the host opens the store before its loggers exist), including a reset done at open.</summary>
    public void AttachLog(ILogger log)
    {
        Log = log;
        if (ResetDone is { } aside) LogReset(log, _path, _resetDetail ?? "", aside);
    }

    /// <summary>Where a damaged database was moved when <see cref="SqliteStoreOptions.ResetIfDamaged"/> began a new one, else null.</summary>
    public string? ResetDone { get; }

    /// <summary>Why writes fail now (the file was deleted or replaced while open), or null while the store is healthy.</summary>
    public string? Lost => _lost;

    /// <summary>Journal writes dropped because the database could not take them.</summary>
    public long DroppedWrites => Interlocked.Read(ref _dropped);

    /// <summary>The SIP passwords' database file.</summary>
    public string SecretsPath => _secrets.FilePath;

    /// <summary>NAME.db → NAME-secrets.db beside it.</summary>
    public static string DefaultSecretsPath(string databasePath)
    {
        var full = Path.GetFullPath(databasePath);
        var ext = Path.GetExtension(full);
        return Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileNameWithoutExtension(full) + "-secrets" + (ext.Length > 0 ? ext : ".db"));
    }

    internal static SqliteConnection OpenChecked(string path, TimeSpan busyTimeout, bool secrets = false)
    {
        SqliteFiles.RestrictToOwner(path);
        var db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = false,
            // Microsoft.Data.Sqlite retries a busy statement until the command timeout (30 s by default) on top of
            // SQLite's own busy_timeout: both are set to the configured wait, or one write could stall for 30 s.
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(busyTimeout.TotalSeconds)),
        }.ToString());
        try
        {
            db.Open();
            using var cmd = db.CreateCommand();
            // WAL with synchronous=NORMAL is durable against process crashes (the WAL is in the OS cache); FULL would
            // add an fsync per commit for power-loss durability, which a CTI server's journal does not need.
            cmd.CommandText = $"PRAGMA busy_timeout={(long)busyTimeout.TotalMilliseconds}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
            cmd.ExecuteNonQuery();
            cmd.CommandText = "PRAGMA quick_check";
            var problems = new List<string>();
            using (var r = cmd.ExecuteReader())
                while (r.Read() && problems.Count < 5) problems.Add(r.GetString(0));
            if (problems is not ["ok"]) throw new StoreDamagedException(path, "integrity check failed: " + string.Join("; ", problems), secrets);
            return db;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            db.Dispose();
            throw new StoreDamagedException(path, ex.Message, secrets, ex);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>Moves a damaged database and its WAL/shared-memory files aside; returns the new name of the main file.</summary>
    private static string MoveAside(string path)
    {
        var aside = $"{path}.damaged-{DateTime.UtcNow:yyyyMMddHHmmss}";
        foreach (var suffix in new[] { "-wal", "-shm", "" })
            if (File.Exists(path + suffix)) File.Move(path + suffix, aside + suffix);
        return aside;
    }

    /// <summary>Before the split the passwords lived in the main database: they move to their own file once.</summary>
    private void MigrateSecrets()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='secrets'";
        if ((long)cmd.ExecuteScalar()! == 0) return;
        cmd.CommandText = "SELECT device, secret FROM secrets";
        using (var r = cmd.ExecuteReader())
            while (r.Read())
                _secrets.AddLegacy(r.GetString(0), r.GetString(1));
        // secure_delete: the dropped table's pages are zeroed, so the plain passwords leave this file's bytes too.
        cmd.CommandText = "PRAGMA secure_delete=ON; DROP TABLE secrets; PRAGMA wal_checkpoint(TRUNCATE)";
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Schema 1 stored the outcome as the enum member's name ("Completed", "Abandoned") and wrote Completed for calls
    /// nobody answered; schema 2 stores the journal names of <see cref="CallOutcomes"/>. Old rows are renamed once, in one
    /// transaction, and an unanswered "Completed" becomes what it was: cancelled.
    /// </summary>
    private void MigrateOutcomeNames()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "PRAGMA user_version";
        if ((long)cmd.ExecuteScalar()! >= SchemaVersion) return;
        cmd.CommandText = $"""
            BEGIN IMMEDIATE;
            UPDATE calls SET outcome = CASE outcome
                WHEN 'Completed' THEN CASE WHEN answered IS NULL THEN 'cancelled' ELSE 'completed' END
                WHEN 'Abandoned' THEN 'cancelled'
                WHEN 'Rejected' THEN 'rejected'
                WHEN 'Busy' THEN 'busy'
                WHEN 'Failed' THEN 'failed'
                WHEN 'Interrupted' THEN 'interrupted'
                ELSE outcome END
            WHERE outcome IS NOT NULL;
            PRAGMA user_version={SchemaVersion};
            COMMIT;
            """;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Calls found unfinished when the store was opened (the server had stopped during them).</summary>
    public int InterruptedOnStart { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, ForwardingSetting> LoadAll()
    {
        lock (_gate)
        {
            var result = new Dictionary<string, ForwardingSetting>(StringComparer.Ordinal);
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT device, mode, target FROM forwarding";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var mode = Enum.TryParse<ForwardingMode>(r.GetString(1), out var m) ? m : ForwardingMode.None;
                result[r.GetString(0)] = new ForwardingSetting(mode, r.IsDBNull(2) ? null : r.GetString(2));
            }
            return result;
        }
    }

    /// <inheritdoc />
    public Task SaveAsync(string device, ForwardingSetting setting) => setting.Mode == ForwardingMode.None
        ? Enqueue(true, "DELETE FROM forwarding WHERE device=$d", ("$d", device))!
        : Enqueue(true, "INSERT INTO forwarding(device, mode, target) VALUES($d, $m, $t) ON CONFLICT(device) DO UPDATE SET mode=$m, target=$t",
            ("$d", device), ("$m", setting.Mode.ToString()), ("$t", (object?)setting.Target ?? DBNull.Value))!;

    /// <inheritdoc />
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at) =>
        Enqueue(false, "INSERT OR REPLACE INTO calls(id, calling, called, started) VALUES($id, $a, $b, $t)",
            ("$id", Id(callId)), ("$a", calling), ("$b", called), ("$t", Iso(at)));

    /// <inheritdoc />
    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at) =>
        Enqueue(false, "UPDATE calls SET answered=$t, answered_by=$by WHERE id=$id AND answered IS NULL",
            ("$id", Id(callId)), ("$by", answeredBy), ("$t", Iso(at)));

    /// <inheritdoc />
    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at) =>
        Enqueue(false, "UPDATE calls SET ended=$t, outcome=$o WHERE id=$id AND ended IS NULL",
            ("$id", Id(callId)), ("$o", CallOutcomes.Name(outcome)), ("$t", Iso(at)));

    /// <inheritdoc />
    public IReadOnlyList<CallJournalEntry> Recent(int count)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, calling, called, started, answered, ended, outcome, answered_by FROM calls ORDER BY id DESC LIMIT $n";
            cmd.Parameters.AddWithValue("$n", count);
            using var r = cmd.ExecuteReader();
            var list = new List<CallJournalEntry>();
            while (r.Read())
            {
                list.Add(new CallJournalEntry(
                    r.GetInt64(0).ToString(CultureInfo.InvariantCulture), r.GetString(1), r.GetString(2),
                    DateTimeOffset.Parse(r.GetString(3), CultureInfo.InvariantCulture),
                    r.IsDBNull(4) ? null : DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture),
                    r.IsDBNull(5) ? null : DateTimeOffset.Parse(r.GetString(5), CultureInfo.InvariantCulture),
                    r.IsDBNull(6) || !CallOutcomes.TryParse(r.GetString(6), out var outcome) ? null : outcome,
                    r.IsDBNull(7) ? null : r.GetString(7)));
            }
            return list;
        }
    }

    /// <inheritdoc />
    public long MaxCallId()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT COALESCE(MAX(id), 0) FROM calls";
            return (long)cmd.ExecuteScalar()!;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<PhoneBinding> LoadBindings()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT device, contact, expires, transport, source, call_id, user_agent FROM bindings";
            using var r = cmd.ExecuteReader();
            var list = new List<PhoneBinding>();
            while (r.Read())
            {
                list.Add(new PhoneBinding(r.GetString(0), r.GetString(1), DateTimeOffset.Parse(r.GetString(2), CultureInfo.InvariantCulture),
                    r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)));
            }
            return list;
        }
    }

    /// <inheritdoc />
    public void SaveBinding(PhoneBinding b) =>
        Write("""
            INSERT INTO bindings(device, contact, expires, transport, source, call_id, user_agent) VALUES($d, $c, $e, $t, $s, $i, $u)
            ON CONFLICT(device, contact) DO UPDATE SET expires=$e, transport=$t, source=$s, call_id=$i, user_agent=$u
            """,
            ("$d", b.Device), ("$c", b.Contact), ("$e", Iso(b.Expires)), ("$t", b.Transport), ("$s", b.Source),
            ("$i", (object?)b.CallId ?? DBNull.Value), ("$u", (object?)b.UserAgent ?? DBNull.Value));

    /// <inheritdoc />
    public void RemoveBinding(string device, string? contact)
    {
        if (contact is null) Write("DELETE FROM bindings WHERE device=$d", ("$d", device));
        else Write("DELETE FROM bindings WHERE device=$d AND contact=$c", ("$d", device), ("$c", contact));
    }

    /// <inheritdoc />
    public DeviceCredential? GetCredential(string device) => _secrets.GetCredential(device);

    /// <inheritdoc />
    public void SetCredential(string device, DeviceCredential credential) => _secrets.SetCredential(device, credential);

    /// <inheritdoc />
    public bool ClearPending(string device) => _secrets.ClearPending(device);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, DeviceCredential> AllCredentials() => _secrets.AllCredentials();

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> LegacyPasswords() => _secrets.LegacyPasswords();

    /// <inheritdoc />
    public void RemoveLegacy(string device) => _secrets.RemoveLegacy(device);

    private void Write(string sql, params (string Name, object Value)[] args)
    {
        lock (_gate)
        {
            if (_lost is { } lost) throw new StoreUnavailableException(lost);
            using var cmd = _db.CreateCommand();
            cmd.CommandText = sql;
            foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
            cmd.ExecuteNonQuery();
        }
    }

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static long Id(string callId) => long.Parse(callId, CultureInfo.InvariantCulture);

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private Task? Enqueue(bool awaited, string sql, params (string Name, object Value)[] args)
    {
        var op = new Op(sql, args, awaited ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null);
        if (_lost is { } lost)
        {
            Fail([op], new StoreUnavailableException(lost));
        }
        else if (!_queue.Writer.TryWrite(op))
        {
            Fail([op], new StoreUnavailableException($"the database writer is {MaxQueued} changes behind"));
        }
        return op.Done?.Task;
    }

    /// <summary>The one writer: takes what is queued, commits it as one transaction, completes every change's task.</summary>
    private async Task WriteLoop()
    {
        var batch = new List<Op>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var op)) batch.Add(op);
            try
            {
                Commit(batch);
                foreach (var op in batch) op.Done?.TrySetResult();
            }
            catch (SqliteException ex)
            {
                var why = Describe(ex);
                LogWriteFailed(Log, batch.Count, _path, why);
                Fail(batch, new StoreUnavailableException(why, ex));
            }
            catch (StoreUnavailableException ex)
            {
                Fail(batch, ex);
            }
        }
    }

    private void Commit(List<Op> batch)
    {
        lock (_gate)
        {
            if (_lost is { } lost) throw new StoreUnavailableException(lost);
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "BEGIN IMMEDIATE";
            cmd.ExecuteNonQuery();
            try
            {
                foreach (var op in batch)
                {
                    cmd.CommandText = op.Sql;
                    cmd.Parameters.Clear();
                    foreach (var (n, v) in op.Args) cmd.Parameters.AddWithValue(n, v);
                    cmd.ExecuteNonQuery();
                }
                cmd.Parameters.Clear();
                cmd.CommandText = "COMMIT";
                cmd.ExecuteNonQuery();
            }
            catch
            {
                cmd.Parameters.Clear();
                cmd.CommandText = "ROLLBACK";
                try
                {
                    cmd.ExecuteNonQuery();
                }
                catch (SqliteException)
                {
                    // No transaction left to roll back (SQLite may have ended it itself).
                }
                throw;
            }
        }
    }

    private void Fail(IEnumerable<Op> ops, StoreUnavailableException error)
    {
        foreach (var op in ops)
        {
            if (op.Done is { } done)
            {
                done.TrySetException(error);
                continue;
            }
            // Journal rows have nobody waiting: counted, and reported at most once a minute.
            long dropped = Interlocked.Increment(ref _dropped);
            long now = Environment.TickCount64;
            long last = Interlocked.Read(ref _lastDropReport);
            if ((last == 0 || now - last >= 60_000) && Interlocked.CompareExchange(ref _lastDropReport, now, last) == last)
                LogJournalDropped(Log, dropped, error.Message);
        }
    }

    private string Describe(SqliteException ex) => ex.SqliteErrorCode switch
    {
        5 or 6 => $"database busy: {_path} is locked by another process for more than {_options.BusyTimeout.TotalSeconds:0.#} s (DatabaseBusyTimeout)",
        8 => $"database is read-only: {_path}",
        10 or 13 => $"database disk error ({ex.Message})",
        11 or 26 => $"database damaged: {_path} ({ex.Message}); see the recovery procedure in the README",
        _ => $"database error ({ex.Message})",
    };

    /// <summary>A database deleted or replaced under the open connection would silently take every later write into an
    /// unlinked file: noticed here, reported loudly, and every write fails from then on.</summary>
    private void CheckFile()
    {
        if (_lost is not null) return;
        FileIdentity? now;
        try
        {
            now = FileIdentity.Of(_path);
        }
        catch (IOException)
        {
            return;
        }
        if (now == _identity) return;
        _lost = now is null
            ? $"database file {_path} was deleted while the server was running; restart the server to begin a new one"
            : $"database file {_path} was replaced by another file while the server was running; restart the server to use it";
        LogLost(Log, _lost);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _check.Dispose();
        _queue.Writer.TryComplete();
        // Whatever is queued is committed before the connection closes, unless the database is stuck.
        _writer.Wait(_options.BusyTimeout + TimeSpan.FromSeconds(1));
        lock (_gate) _db.Dispose();
        _secrets.Dispose();
    }

    private sealed record Op(string Sql, (string Name, object Value)[] Args, TaskCompletionSource? Done);

    [LoggerMessage(EventId = 4301, Level = LogLevel.Critical, Message = "{Reason}. Forwarding changes are refused with 503 and the call journal is not written until then")]
    private static partial void LogLost(ILogger log, string reason);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Error, Message = "{Count} database changes to {Path} not committed: {Reason}")]
    private static partial void LogWriteFailed(ILogger log, int count, string path, string reason);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Warning, Message = "{Dropped} call journal rows dropped so far: {Reason}")]
    private static partial void LogJournalDropped(ILogger log, long dropped, string reason);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Warning, Message = "Database {Path} was damaged ({Detail}); moved aside to {Aside} and a new one begun (ResetDamagedDatabase). Forwarding settings and the call journal start empty; the SIP passwords are kept")]
    private static partial void LogReset(ILogger log, string path, string detail, string aside);
}
