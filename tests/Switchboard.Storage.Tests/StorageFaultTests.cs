using Microsoft.Data.Sqlite;
using Switchboard.Storage;
using Switchboard.Telephony;

namespace Switchboard.Storage.Tests;

/// <summary>
/// Storage faults (issue 11 finding 9) against real SQLite files: another connection holding the write lock, a damaged
/// file, a file deleted or replaced while open.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StorageFaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-fault-").FullName;
    private string DbPath => Path.Combine(_dir, "switchboard.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SqliteConnection Lock(string path)
    {
        var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        other.Open();
        using var cmd = other.CreateCommand();
        cmd.CommandText = "BEGIN EXCLUSIVE";
        cmd.ExecuteNonQuery();
        return other;
    }

    [Fact]
    public async Task A_write_to_a_database_locked_by_another_connection_fails_as_unavailable_and_the_journal_does_not_block_the_caller()
    {
        using var store = new SqliteStore(DbPath, new SqliteStoreOptions { BusyTimeout = TimeSpan.FromSeconds(1) });
        var model = new CallModel(["100", "101"], new CallEventHub(), store, store);
        using (Lock(DbPath))
        {
            // Journal writes happen under the model's lock: they must only be queued.
            var call = model.StartCall("100", "101");
            model.EndCall(call.Call, "test");
            var result = await model.ForwardAsync("100", ForwardingSetting.Dnd, "Forward 100 *");
            Assert.Equal(ReplyCode.Unavailable, result.Code);
            Assert.Contains("database busy", result.Message);
            Assert.Contains("locked by another process for more than 1 s", result.Message);
            Assert.Equal(ForwardingSetting.Off, model.GetForwarding("100"));
        }
        var ok = await model.ForwardAsync("100", ForwardingSetting.Dnd, "Forward 100 *");
        Assert.Equal(ReplyCode.Ok, ok.Code);
        Assert.Equal(ForwardingSetting.Dnd, model.GetForwarding("100"));
        Assert.Equal(ForwardingSetting.Dnd, store.LoadAll()["100"]);
    }

    [Fact]
    public void A_file_that_is_no_database_is_reported_as_damaged_and_a_reset_keeps_the_secrets()
    {
        var credential = new DeviceCredential("switchboard", "md5-ha1", "sha256-ha1", "pending-100");
        using (var s = new SqliteStore(DbPath)) s.SetCredential("100", credential);
        File.WriteAllBytes(DbPath, [.. Enumerable.Repeat((byte)'x', 8192)]);
        File.Delete(DbPath + "-wal");
        File.Delete(DbPath + "-shm");

        var damaged = Assert.Throws<StoreDamagedException>(() => new SqliteStore(DbPath));
        Assert.False(damaged.IsSecrets);
        Assert.Equal(DbPath, damaged.Path);

        using var reset = new SqliteStore(DbPath, new SqliteStoreOptions { ResetIfDamaged = true });
        Assert.NotNull(reset.ResetDone);
        Assert.True(File.Exists(reset.ResetDone), "the damaged file is kept aside for inspection");
        Assert.Equal(credential, reset.GetCredential("100"));
        Assert.Empty(reset.LoadAll());
    }

    [Fact]
    public void Passwords_are_moved_out_of_a_main_database_of_the_old_layout()
    {
        using (var old = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            old.Open();
            using var cmd = old.CreateCommand();
            cmd.CommandText = "CREATE TABLE secrets(device TEXT PRIMARY KEY, secret TEXT NOT NULL); INSERT INTO secrets VALUES('101','legacy');";
            cmd.ExecuteNonQuery();
        }
        // Kept as a legacy row in the secrets file until the switch turns it into HA1 values (it knows the realm).
        using (var s = new SqliteStore(DbPath)) Assert.Equal("legacy", s.LegacyPasswords()["101"]);
        using var check = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        check.Open();
        using var q = check.CreateCommand();
        q.CommandText = "SELECT count(*) FROM sqlite_master WHERE name='secrets'";
        Assert.Equal(0L, q.ExecuteScalar());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SqliteStore.DefaultSecretsPath(DbPath)));
    }

    [Fact]
    public async Task A_database_deleted_while_open_is_noticed_and_writes_then_fail()
    {
        using var store = new SqliteStore(DbPath, new SqliteStoreOptions { CheckInterval = TimeSpan.FromMilliseconds(50) });
        await store.SaveAsync("100", ForwardingSetting.Dnd);
        foreach (var f in new[] { DbPath, DbPath + "-wal", DbPath + "-shm" }) File.Delete(f);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (store.Lost is null && DateTime.UtcNow < end) await Task.Delay(20);
        Assert.Contains("was deleted while the server was running", store.Lost);
        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.SaveAsync("101", ForwardingSetting.Dnd));
        Assert.Contains("deleted", error.Message);
    }

    [Fact]
    public async Task A_database_replaced_while_open_is_noticed()
    {
        using var store = new SqliteStore(DbPath, new SqliteStoreOptions { CheckInterval = TimeSpan.FromMilliseconds(50) });
        await store.SaveAsync("100", ForwardingSetting.Dnd);
        var copy = Path.Combine(_dir, "restored.db");
        File.Copy(DbPath, copy);
        File.Move(copy, DbPath, overwrite: true);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (store.Lost is null && DateTime.UtcNow < end) await Task.Delay(20);
        Assert.Contains("was replaced by another file", store.Lost);
    }
}
