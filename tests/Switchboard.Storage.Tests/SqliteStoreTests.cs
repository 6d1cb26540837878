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
