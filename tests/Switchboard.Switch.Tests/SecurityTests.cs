using System.Net;
using Microsoft.Extensions.Time.Testing;
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
        var secrets = new DeviceSecrets(store, "switchboard");
        var created = secrets.EnsureAll(["100", "101"]);
        Assert.Equal(2, created.Count);
        Assert.NotEqual(created["100"], created["101"]);
        Assert.All(created.Values, p => Assert.Equal(16, p.Length));
        Assert.Empty(secrets.EnsureAll(["100", "101"]));
        Assert.Equal(created["100"], secrets.Get("100"));
    }

    private static readonly IPAddress Office = IPAddress.Parse("192.0.2.7");

    [Fact]
    public void A_password_guesser_is_blocked_with_growing_block_times_and_others_are_not()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time) { FreeFailures = 3, BaseBlock = TimeSpan.FromSeconds(10) };
        for (int i = 0; i < 3; i++) Assert.Equal(TimeSpan.Zero, throttle.Failure("100", Office));
        Assert.Equal(TimeSpan.FromSeconds(10), throttle.Failure("100", Office));
        Assert.True(throttle.IsBlocked("100", Office, out _, out var why));
        Assert.Equal(ThrottleRefusal.Blocked, why);
        Assert.False(throttle.IsBlocked("100", IPAddress.Loopback, out _, out _));
        Assert.Equal(TimeSpan.FromSeconds(20), throttle.Failure("100", Office));
        time.Advance(TimeSpan.FromSeconds(21));
        Assert.False(throttle.IsBlocked("100", Office, out _, out _));
        Assert.Equal(TimeSpan.FromSeconds(40), throttle.Failure("100", Office));
    }

    [Fact]
    public void One_bad_client_behind_an_office_nat_does_not_lock_out_another_user_of_the_same_address()
    {
        var throttle = new AuthThrottle(new FakeTimeProvider());
        for (int i = 0; i < 10; i++) throttle.Failure("100", Office);
        Assert.True(throttle.IsBlocked("100", Office, out _, out _));
        Assert.False(throttle.IsBlocked("101", Office, out _, out _));
    }

    [Fact]
    public void Block_times_double_up_to_fifteen_minutes_and_a_quiet_minute_does_not_reset_them()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time);
        for (int i = 0; i < 5; i++) throttle.Failure("100", Office);
        var blocks = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            var block = throttle.Failure("100", Office);
            blocks.Add((int)block.TotalSeconds);
            // The guesser waits out each block and a quiet minute more: the old one-minute window reset the doubling here.
            time.Advance(block + TimeSpan.FromMinutes(1));
        }
        Assert.Equal([10, 20, 40, 80, 160, 320, 640, 900, 900, 900], blocks);
        // An hour without failures forgets the streak (a phone with a typo recovers).
        time.Advance(TimeSpan.FromHours(1.5));
        Assert.Equal(TimeSpan.Zero, throttle.Failure("100", Office));
    }

    [Fact]
    public void A_wall_clock_step_changes_no_block_time()
    {
        var time = new SteppingClock();
        var throttle = new AuthThrottle(time);
        for (int i = 0; i < 6; i++) throttle.Failure("100", Office);
        time.Step = TimeSpan.FromHours(-1);
        Assert.True(throttle.IsBlocked("100", Office, out var left, out _));
        Assert.InRange(left, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(throttle.IsBlocked("100", Office, out _, out _));
    }

    [Fact]
    public void Two_hundred_fifty_addresses_guessing_once_a_second_get_the_per_user_cap_and_the_users_own_phone_still_works()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time) { MaxFailuresPerUserPerMinute = 20 };
        var phone = IPAddress.Parse("10.1.1.1");
        throttle.Success("100", phone);
        int guesses = 0;
        var midway = ThrottleRefusal.None;
        for (int second = 0; second < 60; second++, time.Advance(TimeSpan.FromSeconds(1)))
        {
            if (second == 30)
            {
                Assert.True(throttle.IsBlocked("100", IPAddress.Parse("203.0.9.9"), out _, out midway));
                Assert.False(throttle.IsBlocked("100", phone, out _, out _));
            }
            for (int a = 0; a < 250; a++)
            {
                var address = new IPAddress([203, 0, (byte)(a / 256), (byte)(a % 256)]);
                if (throttle.IsBlocked("100", address, out _, out _)) continue;
                guesses++;
                throttle.Failure("100", address);
            }
        }
        Assert.Equal(20, guesses);
        Assert.Equal(ThrottleRefusal.UserCapped, midway);
    }

    [Fact]
    public void One_address_sending_fast_is_rate_limited_and_recovers_at_the_refill_rate()
    {
        var time = new FakeTimeProvider();
        var throttle = new AuthThrottle(time) { RequestsPerSecond = 10, RequestBurst = 50 };
        int admitted = 0, started = 0;
        for (int i = 0; i < 1000; i++)
        {
            if (throttle.TryAdmit(Office, out _, out var first)) admitted++;
            else if (first) started++;
        }
        Assert.Equal(50, admitted);
        Assert.Equal(1, started);
        Assert.True(throttle.TryAdmit(IPAddress.Loopback, out _, out _));
        time.Advance(TimeSpan.FromSeconds(1));
        admitted = 0;
        for (int i = 0; i < 100; i++) if (throttle.TryAdmit(Office, out _, out _)) admitted++;
        Assert.Equal(10, admitted);
    }

    [Fact]
    public void The_tables_stay_bounded_under_many_source_addresses()
    {
        var throttle = new AuthThrottle(new FakeTimeProvider()) { MaxEntries = 1000 };
        for (int i = 0; i < 20_000; i++)
        {
            var address = new IPAddress([198, 18, (byte)(i / 256), (byte)(i % 256)]);
            throttle.TryAdmit(address, out _, out _);
            throttle.Failure(AuthThrottle.UnknownUser, address);
        }
        var (streaks, users, buckets) = throttle.Counts;
        Assert.InRange(streaks, 1, 1001);
        Assert.InRange(buckets, 1, 1001);
        Assert.Equal(1, users);
        // Newcomers beyond the bound share one entry, which throttles more, never less.
        Assert.True(throttle.IsBlocked(AuthThrottle.UnknownUser, IPAddress.Parse("198.18.250.1"), out _, out _));
    }

    /// <summary>A fake clock whose wall time can be stepped while its monotonic timestamp runs on.</summary>
    private sealed class SteppingClock : FakeTimeProvider
    {
        public TimeSpan Step { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Step;

        public override long GetTimestamp() => base.GetUtcNow().UtcTicks;
    }
}
