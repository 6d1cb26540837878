using System.Diagnostics;
using Xunit;

namespace Switchboard.Testing;

/// <summary>Waiting for a condition that another process or thread makes true, with the failure saying what never happened.</summary>
public static class Poll
{
    /// <summary>Polls every 50 ms; fails with "timed out waiting for <paramref name="what"/>" after <paramref name="seconds"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, double seconds = 15)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(seconds)) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Polls an asynchronous probe until its value satisfies <paramref name="done"/>; returns the last value either way,
    /// so the caller can put what it saw into its own failure message.
    /// </summary>
    public static async Task<T> ForAsync<T>(Func<Task<T>> probe, Func<T, bool> done, double seconds = 5)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value) || sw.Elapsed > TimeSpan.FromSeconds(seconds)) return value;
            await Task.Delay(50);
        }
    }
}
