using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Media.Tests;

/// <summary>The engine's clock driven by a manual time source: catch-up against absolute deadlines, skip-ahead.</summary>
public class MediaClockTests
{
    private static async Task WaitForTicksAsync(MediaEngine engine, long ticks)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (engine.Ticks < ticks)
        {
            await Task.Delay(5, guard.Token);
        }
    }

    [Fact]
    public async Task Late_ticks_are_caught_up_one_per_deadline_and_a_long_stall_is_skipped()
    {
        var time = new FakeTimeProvider();
        await using var engine = new MediaEngine(new MediaEngineOptions(), time: time);

        // Tick 0 is due at start; nothing more until the manual clock moves.
        await WaitForTicksAsync(engine, 1);
        Assert.Equal(1, engine.Ticks);

        // 100 ms late: the five deadlines that passed each get their tick, no more.
        time.Advance(TimeSpan.FromMilliseconds(100));
        await WaitForTicksAsync(engine, 6);
        Assert.Equal(6, engine.Ticks);
        Assert.Equal(0, engine.SkippedTicks);

        // Half a tick moves no deadline past; the next half does.
        time.Advance(TimeSpan.FromMilliseconds(10));
        time.Advance(TimeSpan.FromMilliseconds(10));
        await WaitForTicksAsync(engine, 7);
        Assert.Equal(7, engine.Ticks);

        // A stall of a second is not replayed as a burst of 50 ticks: the clock skips 49 deadlines and runs the present one.
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitForTicksAsync(engine, 8);
        Assert.Equal(8, engine.Ticks);
        Assert.Equal(49, engine.SkippedTicks);
        Assert.Equal(0, engine.TickFailures);
    }
}
