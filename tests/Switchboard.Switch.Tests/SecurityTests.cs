using System.Net;
using Switchboard.Storage;
using Switchboard.Switch.Security;

namespace Switchboard.Switch.Tests;

public sealed class SecurityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-sec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_device_gets_its_own_random_password_once_and_keeps_it()
    {
        using var store = new SqliteStore(Path.Combine(_dir, "sb.db"));
        var secrets = new DeviceSecrets(store);
        var created = secrets.EnsureAll(["100", "101"]);
        Assert.Equal(2, created.Count);
        Assert.NotEqual(created["100"], created["101"]);
        Assert.All(created.Values, p => Assert.Equal(16, p.Length));
        Assert.Empty(secrets.EnsureAll(["100", "101"]));
        Assert.Equal(created["100"], secrets.Get("100"));
    }

    [Fact]
    public void A_password_guesser_is_blocked_with_growing_block_times_and_others_are_not()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch);
        var throttle = new AuthThrottle(time) { FreeFailures = 3, BaseBlock = TimeSpan.FromSeconds(10) };
        var scanner = IPAddress.Parse("192.0.2.7");
        for (int i = 0; i < 3; i++) Assert.Equal(TimeSpan.Zero, throttle.Failure(scanner));
        Assert.Equal(TimeSpan.FromSeconds(10), throttle.Failure(scanner));
        Assert.True(throttle.IsBlocked(scanner, out _));
        Assert.False(throttle.IsBlocked(IPAddress.Loopback, out _));
        Assert.Equal(TimeSpan.FromSeconds(20), throttle.Failure(scanner));
        time.Advance(TimeSpan.FromSeconds(21));
        Assert.False(throttle.IsBlocked(scanner, out _));
        Assert.Equal(TimeSpan.FromSeconds(40), throttle.Failure(scanner));

        // At most FreeFailures + a few tries fit into a minute once blocking has started.
        int tries = 0;
        var guesser = IPAddress.Parse("192.0.2.8");
        for (int second = 0; second < 60; second++, time.Advance(TimeSpan.FromSeconds(1)))
        {
            for (int k = 0; k < 100; k++)
            {
                if (throttle.IsBlocked(guesser, out _)) break;
                tries++;
                throttle.Failure(guesser);
            }
        }
        Assert.InRange(tries, 4, 8);
    }
}
