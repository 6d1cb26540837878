using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>
/// Storage faults with the real executable (issue 11 finding 9): a database locked by another process, a damaged
/// database at start and its documented recovery, a database deleted while running.
/// </summary>
public sealed class StorageFaultProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-storefault-").FullName;

    private string Db => Path.Combine(_dir, "switchboard.db");

    // --demo keeps its own database file, so no simulated call reaches the real journal.
    private string DemoDb => Path.Combine(_dir, "switchboard-demo.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // The switch listens on UDP and TCP at Sip:Port and TLS at the next port: all of them must be free.
    private static int FreeUdpPort() => Switchboard.Testing.Ports.Block(2);

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_database_locked_by_another_process_gives_503_to_Forward_while_Status_still_answers()
    {
        await using var server = await ServerProcess.StartAsync(_dir, "--demo", "--DatabaseBusyTimeout=00:00:03");
        Assert.StartsWith("200 ", await server.SendAsync("Forward 101 *"));

        await using (var other = new SqliteConnection($"Data Source={DemoDb};Pooling=False"))
        {
            other.Open();
            using (var cmd = other.CreateCommand())
            {
                cmd.CommandText = "BEGIN EXCLUSIVE";
                cmd.ExecuteNonQuery();
            }
            var forward = server.SendAsync("Forward 100 *");
            // Another client is served while the Forward waits for the database (before, the write held the call
            // model's lock for 30 s and every client stalled behind it).
            var status = await server.SendAsync("Status 100");
            Assert.StartsWith("200 Status 100:", status);
            Assert.False(forward.IsCompleted, "the Forward was answered before the busy timeout, without waiting for the lock");
            var reply = await forward;
            Assert.StartsWith("503 Forward 100 *: not changed, database busy", reply);
            Assert.Contains("locked by another process for more than 3 s", reply);
            Assert.Contains("; off;", await server.SendAsync("Status 100"));
        }
        Assert.StartsWith("200 ", await server.SendAsync("Forward 100 *"));
        Assert.Contains("; dnd;", await server.SendAsync("Status 100"));
    }

    [Fact]
    public async Task A_damaged_database_stops_the_start_with_a_clear_message_and_the_documented_recovery_keeps_the_SIP_passwords()
    {
        int sipPort = FreeUdpPort();
        string[] args = ["--PhoneSystem=sip", $"--Sip:Port={sipPort}", "--Sip:ListenAddress=127.0.0.1"];
        string password;
        await using (var first = await ServerProcess.StartAsync(_dir, args))
        {
            var line = first.Output.Split('\n').First(l => l.Contains("extension 101: password", StringComparison.Ordinal));
            password = line[(line.IndexOf("password ", StringComparison.Ordinal) + 9)..].Trim();
            Assert.StartsWith("200 ", await first.SendAsync("Forward 100 *"));
            await first.KillHardAsync();
        }
        // Garbage over the header, as a disk fault or a stray write would leave it.
        await using (var f = new FileStream(Db, FileMode.Open, FileAccess.Write))
            f.Write(System.Text.Encoding.ASCII.GetBytes(new string('#', 100)));
        foreach (var extra in new[] { Db + "-wal", Db + "-shm" }) File.Delete(extra);

        await using (var damaged = await ServerProcess.StartAsync(_dir, args))
        {
            await damaged.WaitForExitAsync();
            Assert.Equal(3, damaged.ExitCode);
            Assert.Contains($"switchboard: the database {Db} is damaged", damaged.Output);
            Assert.Contains("run once with --ResetDamagedDatabase=true", damaged.Output);
            Assert.DoesNotContain("Unhandled exception", damaged.Output);
        }

        await using var recovered = await ServerProcess.StartAsync(_dir, [.. args, "--ResetDamagedDatabase=true"]);
        Assert.True(recovered.ExitCode is null, recovered.Output);
        Assert.Contains("moved aside to", recovered.Output);
        // Not registered yet, so still shown: the same password, not a new one.
        Assert.Contains($"extension 101: password {password}", recovered.Output);
        Assert.Equal(200, await SipRegister.RegisterAsync(sipPort, "101", password));
        Assert.Single(Directory.EnumerateFiles(_dir, "switchboard.db.damaged-*"), f => !f.EndsWith("-wal", StringComparison.Ordinal) && !f.EndsWith("-shm", StringComparison.Ordinal));
        Assert.Contains("; off;", await recovered.SendAsync("Status 100"));
    }

    [Fact]
    public async Task A_database_deleted_while_running_is_reported_and_Forward_then_gives_503()
    {
        await using var server = await ServerProcess.StartAsync(_dir, "--demo", "--DatabaseCheckInterval=00:00:00.2");
        Assert.StartsWith("200 ", await server.SendAsync("Forward 100 *"));
        foreach (var f in new[] { DemoDb, DemoDb + "-wal", DemoDb + "-shm" }) File.Delete(f);
        await UntilAsync(() => server.Output.Contains("was deleted while the server was running", StringComparison.Ordinal), "the deletion to be reported");
        Assert.Contains("crit", server.Output.Split('\n').First(l => l.Contains("was deleted while", StringComparison.Ordinal)));
        var reply = await server.SendAsync("Forward 101 *");
        Assert.StartsWith("503 Forward 101 *: not changed, database file", reply);
        Assert.Contains("; off;", await server.SendAsync("Status 101"));
    }
}
