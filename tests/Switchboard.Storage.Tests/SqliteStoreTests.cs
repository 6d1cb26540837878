using Microsoft.Data.Sqlite;
using Switchboard.Storage;
using Switchboard.Telephony;

namespace Switchboard.Storage.Tests;

public sealed class SqliteStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-store-").FullName;
    private string DbPath => Path.Combine(_dir, "switchboard.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Forwarding_survives_reopening_and_clearing_removes_it()
    {
        using (var s = new SqliteStore(DbPath))
        {
            await s.SaveAsync("100", ForwardingSetting.To("101"));
            await s.SaveAsync("102", ForwardingSetting.Dnd);
            _ = s.SaveAsync("103", ForwardingSetting.Dnd);
            await s.SaveAsync("103", ForwardingSetting.Off);
        }
        using var reopened = new SqliteStore(DbPath);
        var all = reopened.LoadAll();
        Assert.Equal(ForwardingSetting.To("101"), all["100"]);
        Assert.Equal(ForwardingSetting.Dnd, all["102"]);
        Assert.False(all.ContainsKey("103"));
    }

    [Fact]
    public void Journal_records_calls_and_marks_unfinished_ones_interrupted_on_reopen()
    {
        var t0 = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        using (var s = new SqliteStore(DbPath))
        {
            s.CallStarted("1", "100", "101", t0);
            s.CallAnswered("1", "101", t0.AddSeconds(3));
            s.CallEnded("1", CallOutcome.Completed, t0.AddSeconds(60));
            s.CallStarted("2", "100", "0891234567", t0.AddSeconds(70));
        }
        using var reopened = new SqliteStore(DbPath);
        Assert.Equal(1, reopened.InterruptedOnStart);
        Assert.Equal(2, reopened.MaxCallId());
        var recent = reopened.Recent(10);
        Assert.Equal(["2", "1"], recent.Select(r => r.CallId));
        Assert.Equal(CallOutcome.Interrupted, recent[0].Outcome);
        Assert.Equal(CallOutcome.Completed, recent[1].Outcome);
        Assert.Equal(TimeSpan.FromSeconds(57), recent[1].Ended - recent[1].Answered);
        Assert.Equal("101", recent[1].AnsweredBy);
    }

    [Fact]
    public void Outcomes_are_stored_as_their_journal_names()
    {
        var t0 = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        var all = new[] { CallOutcome.Completed, CallOutcome.NoAnswer, CallOutcome.Busy, CallOutcome.Rejected,
            CallOutcome.Cancelled, CallOutcome.Failed, CallOutcome.NotFound, CallOutcome.Interrupted };
        using (var s = new SqliteStore(DbPath))
        {
            for (int i = 0; i < all.Length; i++)
            {
                s.CallStarted($"{i + 1}", "100", "101", t0);
                s.CallEnded($"{i + 1}", all[i], t0.AddSeconds(1));
            }
        }
        Assert.Equal(["completed", "no-answer", "busy", "rejected", "cancelled", "failed", "not-found", "interrupted"], RawOutcomes());
        using var reopened = new SqliteStore(DbPath);
        Assert.Equal(all, reopened.Recent(10).Reverse().Select(r => r.Outcome!.Value));
    }

    [Fact]
    public void Rows_of_the_old_schema_are_renamed_and_an_unanswered_completed_becomes_cancelled()
    {
        using (var old = new SqliteConnection($"Data Source={DbPath};Pooling=false"))
        {
            old.Open();
            using var cmd = old.CreateCommand();
            cmd.CommandText = """
                CREATE TABLE calls(id INTEGER PRIMARY KEY, calling TEXT NOT NULL, called TEXT NOT NULL,
                    started TEXT NOT NULL, answered TEXT, answered_by TEXT, ended TEXT, outcome TEXT);
                INSERT INTO calls VALUES(1, '100', '101', '2026-11-23T10:00:00Z', '2026-11-23T10:00:03Z', '101', '2026-11-23T10:01:00Z', 'Completed');
                INSERT INTO calls VALUES(2, '100', '101', '2026-11-23T10:02:00Z', NULL, NULL, '2026-11-23T10:02:09Z', 'Completed');
                INSERT INTO calls VALUES(3, '100', '102', '2026-11-23T10:03:00Z', NULL, NULL, '2026-11-23T10:03:30Z', 'Abandoned');
                INSERT INTO calls VALUES(4, '100', '102', '2026-11-23T10:04:00Z', NULL, NULL, '2026-11-23T10:04:01Z', 'Busy');
                INSERT INTO calls VALUES(5, '100', '102', '2026-11-23T10:05:00Z', NULL, NULL, '2026-11-23T10:05:01Z', 'Interrupted');
                """;
            cmd.ExecuteNonQuery();
        }
        using (var s = new SqliteStore(DbPath))
        {
            Assert.Equal([CallOutcome.Interrupted, CallOutcome.Busy, CallOutcome.Cancelled, CallOutcome.Cancelled, CallOutcome.Completed],
                s.Recent(10).Select(r => r.Outcome!.Value));
            // Renamed once: a row written now keeps its name across the next open.
            s.CallStarted("6", "100", "101", DateTimeOffset.UtcNow);
            s.CallEnded("6", CallOutcome.NoAnswer, DateTimeOffset.UtcNow);
        }
        using var again = new SqliteStore(DbPath);
        Assert.Equal(["completed", "cancelled", "cancelled", "busy", "interrupted", "no-answer"], RawOutcomes());
    }

    [Fact]
    public void The_journal_serialises_outcomes_as_names_for_the_api()
    {
        var row = new CallJournalEntry("7", "100", "101", DateTimeOffset.UnixEpoch, null, DateTimeOffset.UnixEpoch, CallOutcome.NoAnswer, null);
        var json = System.Text.Json.JsonSerializer.Serialize(row, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web));
        Assert.Contains("\"outcome\":\"no-answer\"", json);
    }

    private List<string> RawOutcomes()
    {
        using var db = new SqliteConnection($"Data Source={DbPath};Pooling=false");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT outcome FROM calls ORDER BY id";
        using var r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read()) list.Add(r.GetString(0));
        return list;
    }
}

public sealed class SqliteBindingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-bind-").FullName;
    private string DbPath => Path.Combine(_dir, "switchboard.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Bindings_and_secrets_survive_reopening()
    {
        var exp = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        using (var s = new SqliteStore(DbPath))
        {
            s.SaveBinding(new PhoneBinding("100", "sip:100@127.0.0.1:5061", exp, "udp", "127.0.0.1:5061", "abc", "baresip"));
            s.SaveBinding(new PhoneBinding("100", "sip:100@127.0.0.1:5061", exp.AddMinutes(5), "udp", "127.0.0.1:5061", "abc", "baresip"));
            s.SaveBinding(new PhoneBinding("101", "sip:101@127.0.0.1:5071", exp, "tcp", "127.0.0.1:40000", null, null));
            s.RemoveBinding("101", null);
            s.SetCredential("100", new DeviceCredential("switchboard", "md5-ha1", "sha256-ha1", null));
        }
        using var reopened = new SqliteStore(DbPath);
        var b = Assert.Single(reopened.LoadBindings());
        Assert.Equal(exp.AddMinutes(5), b.Expires);
        Assert.Equal(new DeviceCredential("switchboard", "md5-ha1", "sha256-ha1", null), reopened.GetCredential("100"));
        Assert.Null(reopened.GetCredential("101"));
    }
}
