using Microsoft.Data.Sqlite;
using Switchboard.Telephony;

namespace Switchboard.Storage;

/// <summary>
/// The SIP credentials in a SQLite file of their own, created owner-only (0600): a damaged call journal can be reset
/// without losing them, and they are not part of the database operators copy around for reports. Passwords are kept
/// as digest HA1 values only; a generated password stays readable until its extension first registers, and is then
/// erased from the file (secure_delete, WAL truncated), so the file holds no password an attacker could reuse.
/// </summary>
public sealed class SqliteSecretStore : IDeviceSecretStore, IDisposable
{
    private readonly SqliteConnection _db;
    private readonly object _gate = new();

    /// <summary>Opens (creating owner-only if needed) the secrets file; throws <see cref="StoreDamagedException"/> when damaged.</summary>
    public SqliteSecretStore(string path, TimeSpan busyTimeout)
    {
        FilePath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        _db = SqliteStore.OpenChecked(FilePath, busyTimeout, secrets: true);
        Exec("""
            PRAGMA secure_delete=ON;
            CREATE TABLE IF NOT EXISTS secrets(device TEXT PRIMARY KEY, secret TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS credentials(device TEXT PRIMARY KEY, realm TEXT NOT NULL, ha1_md5 TEXT NOT NULL,
                ha1_sha256 TEXT NOT NULL, pending TEXT);
            """);
    }

    /// <summary>The secrets file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public DeviceCredential? GetCredential(string device)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT realm, ha1_md5, ha1_sha256, pending FROM credentials WHERE device=$d";
            cmd.Parameters.AddWithValue("$d", device);
            using var r = cmd.ExecuteReader();
            return r.Read() ? Read(r) : null;
        }
    }

    /// <inheritdoc />
    public void SetCredential(string device, DeviceCredential credential)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                INSERT INTO credentials(device, realm, ha1_md5, ha1_sha256, pending) VALUES($d, $r, $m, $s, $p)
                ON CONFLICT(device) DO UPDATE SET realm=$r, ha1_md5=$m, ha1_sha256=$s, pending=$p
                """;
            cmd.Parameters.AddWithValue("$d", device);
            cmd.Parameters.AddWithValue("$r", credential.Realm);
            cmd.Parameters.AddWithValue("$m", credential.Ha1Md5);
            cmd.Parameters.AddWithValue("$s", credential.Ha1Sha256);
            cmd.Parameters.AddWithValue("$p", (object?)credential.PendingPassword ?? DBNull.Value);
            int changed = cmd.ExecuteNonQuery();
            // A replaced pending password must not linger in the WAL either.
            if (changed > 0 && credential.PendingPassword is null) Truncate();
        }
    }

    /// <inheritdoc />
    public bool ClearPending(string device)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "UPDATE credentials SET pending=NULL WHERE device=$d AND pending IS NOT NULL";
            cmd.Parameters.AddWithValue("$d", device);
            if (cmd.ExecuteNonQuery() == 0) return false;
            Truncate();
            return true;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, DeviceCredential> AllCredentials()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT realm, ha1_md5, ha1_sha256, pending, device FROM credentials ORDER BY device";
            using var r = cmd.ExecuteReader();
            var all = new Dictionary<string, DeviceCredential>(StringComparer.Ordinal);
            while (r.Read()) all[r.GetString(4)] = Read(r);
            return all;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> LegacyPasswords()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT device, secret FROM secrets";
            using var r = cmd.ExecuteReader();
            var all = new Dictionary<string, string>(StringComparer.Ordinal);
            while (r.Read()) all[r.GetString(0)] = r.GetString(1);
            return all;
        }
    }

    /// <inheritdoc />
    public void RemoveLegacy(string device)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "DELETE FROM secrets WHERE device=$d";
            cmd.Parameters.AddWithValue("$d", device);
            if (cmd.ExecuteNonQuery() > 0) Truncate();
        }
    }

    /// <summary>Keeps a plain-text password of an older version (moved from the main database) until it is converted.</summary>
    internal void AddLegacy(string device, string secret)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT OR IGNORE INTO secrets(device, secret) VALUES($d, $s)";
            cmd.Parameters.AddWithValue("$d", device);
            cmd.Parameters.AddWithValue("$s", secret);
            cmd.ExecuteNonQuery();
        }
    }

    private static DeviceCredential Read(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3));

    /// <summary>Moves the WAL into the file and empties it: an erased password's old page is then nowhere on disk.</summary>
    private void Truncate() => Exec("PRAGMA wal_checkpoint(TRUNCATE)");

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate) _db.Dispose();
    }
}
