using System.Globalization;
using Microsoft.Data.Sqlite;
using Switchboard.Telephony;

namespace Switchboard.Storage;

/// <summary>
/// SQLite store (WAL) for forwarding/DND settings and the call journal. Every write is its own committed transaction
/// before the method returns, so a crash or kill -9 right after a reply loses nothing that was acknowledged.
/// </summary>
public sealed class SqliteStore : IForwardingStore, ICallJournal, IPhoneBindingStore, IDeviceSecretStore, IDisposable
{
    private readonly SqliteConnection _db;
    private readonly object _gate = new();

    /// <summary>Opens (creating if needed) the database file.</summary>
    public SqliteStore(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        // WAL with synchronous=NORMAL is durable against process crashes (the WAL is in the OS cache); FULL would add
        // an fsync per commit for power-loss durability, which a CTI server's journal does not need.
        Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
        Exec("""
            CREATE TABLE IF NOT EXISTS forwarding(device TEXT PRIMARY KEY, mode TEXT NOT NULL, target TEXT);
            CREATE TABLE IF NOT EXISTS calls(
                id INTEGER PRIMARY KEY, calling TEXT NOT NULL, called TEXT NOT NULL,
                started TEXT NOT NULL, answered TEXT, answered_by TEXT, ended TEXT, outcome TEXT);
            CREATE TABLE IF NOT EXISTS bindings(
                device TEXT NOT NULL, contact TEXT NOT NULL, expires TEXT NOT NULL, transport TEXT NOT NULL,
                source TEXT NOT NULL, call_id TEXT, user_agent TEXT, PRIMARY KEY(device, contact));
            CREATE TABLE IF NOT EXISTS secrets(device TEXT PRIMARY KEY, secret TEXT NOT NULL);
            """);
        // Calls that were up when the server last stopped cannot be up now.
        var now = Iso(DateTimeOffset.UtcNow);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "UPDATE calls SET ended=$now, outcome='Interrupted' WHERE ended IS NULL";
        cmd.Parameters.AddWithValue("$now", now);
        InterruptedOnStart = cmd.ExecuteNonQuery();
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
    public void Save(string device, ForwardingSetting setting)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            if (setting.Mode == ForwardingMode.None)
            {
                cmd.CommandText = "DELETE FROM forwarding WHERE device=$d";
            }
            else
            {
                cmd.CommandText = "INSERT INTO forwarding(device, mode, target) VALUES($d, $m, $t) ON CONFLICT(device) DO UPDATE SET mode=$m, target=$t";
                cmd.Parameters.AddWithValue("$m", setting.Mode.ToString());
                cmd.Parameters.AddWithValue("$t", (object?)setting.Target ?? DBNull.Value);
            }
            cmd.Parameters.AddWithValue("$d", device);
            cmd.ExecuteNonQuery();
        }
    }

    /// <inheritdoc />
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at) =>
        Write("INSERT OR REPLACE INTO calls(id, calling, called, started) VALUES($id, $a, $b, $t)",
            ("$id", Id(callId)), ("$a", calling), ("$b", called), ("$t", Iso(at)));

    /// <inheritdoc />
    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at) =>
        Write("UPDATE calls SET answered=$t, answered_by=$by WHERE id=$id AND answered IS NULL",
            ("$id", Id(callId)), ("$by", answeredBy), ("$t", Iso(at)));

    /// <inheritdoc />
    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at) =>
        Write("UPDATE calls SET ended=$t, outcome=$o WHERE id=$id AND ended IS NULL",
            ("$id", Id(callId)), ("$o", outcome.ToString()), ("$t", Iso(at)));

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
                    r.IsDBNull(6) ? null : Enum.Parse<CallOutcome>(r.GetString(6)),
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
    public string? GetSecret(string device)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT secret FROM secrets WHERE device=$d";
            cmd.Parameters.AddWithValue("$d", device);
            return cmd.ExecuteScalar() as string;
        }
    }

    /// <inheritdoc />
    public void SetSecret(string device, string secret) =>
        Write("INSERT INTO secrets(device, secret) VALUES($d, $s) ON CONFLICT(device) DO UPDATE SET secret=$s", ("$d", device), ("$s", secret));

    private void Write(string sql, params (string Name, object Value)[] args)
    {
        lock (_gate)
        {
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

    /// <inheritdoc />
    public void Dispose() => _db.Dispose();
}
