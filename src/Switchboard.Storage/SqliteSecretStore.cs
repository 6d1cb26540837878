using Microsoft.Data.Sqlite;
using Switchboard.Telephony;

namespace Switchboard.Storage;

/// <summary>
/// The SIP passwords in a SQLite file of their own, created owner-only (0600): a damaged call journal can be reset
/// without losing them, and they are not part of the database operators copy around for reports.
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
        if (!File.Exists(FilePath) && !OperatingSystem.IsWindows())
        {
            // Created empty with mode 0600 before SQLite opens it, so the passwords are never readable by others.
            using var _ = new FileStream(FilePath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        _db = SqliteStore.OpenChecked(FilePath, busyTimeout, secrets: true);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "CREATE TABLE IF NOT EXISTS secrets(device TEXT PRIMARY KEY, secret TEXT NOT NULL)";
        cmd.ExecuteNonQuery();
    }

    /// <summary>The secrets file.</summary>
    public string FilePath { get; }

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
    public void SetSecret(string device, string secret)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT INTO secrets(device, secret) VALUES($d, $s) ON CONFLICT(device) DO UPDATE SET secret=$s";
            cmd.Parameters.AddWithValue("$d", device);
            cmd.Parameters.AddWithValue("$s", secret);
            cmd.ExecuteNonQuery();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate) _db.Dispose();
    }
}
