using Microsoft.Extensions.Time.Testing;
using Switchboard.Storage;
using Switchboard.Switch.Registrar;
using Switchboard.Telephony;

namespace Switchboard.Switch.Tests;

public sealed class BindingTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-reg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Bindings_make_devices_reachable_survive_reopen_and_expire()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var db = Path.Combine(_dir, "sb.db");
        using (var store = new SqliteStore(db))
        {
            var model = new CallModel(["100", "101"], new CallEventHub());
            var table = new BindingTable(store, model, time);
            Assert.False(model.IsReachable("100"));
            table.Register(new PhoneBinding("100", "sip:100@127.0.0.1:5061", time.GetUtcNow().AddSeconds(60), "udp", "127.0.0.1:5061", "c1", null));
            Assert.True(model.IsReachable("100"));
        }
        using (var store = new SqliteStore(db))
        {
            var model = new CallModel(["100", "101"], new CallEventHub());
            var table = new BindingTable(store, model, time);
            Assert.True(model.IsReachable("100"));
            Assert.Equal("sip:100@127.0.0.1:5061", table.Lookup("100").Single().Contact);
            time.Advance(TimeSpan.FromSeconds(61));
            Assert.Empty(table.Lookup("100"));
            Assert.Equal(["100"], table.Expire());
            Assert.False(model.IsReachable("100"));
        }
    }
}
