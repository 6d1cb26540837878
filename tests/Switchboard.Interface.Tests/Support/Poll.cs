namespace Switchboard.Interface.Tests.Support;

/// <summary>Bounded waits: the phone system and the file watcher act asynchronously, so tests poll instead of sleeping.</summary>
public static class Poll
{
    /// <summary>Generous bound: only ever reached when something is broken, so it costs nothing on a green run.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> otherwise.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout ?? Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Polls an async probe until its value satisfies <paramref name="accept"/>; fails naming the last value seen.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> accept, string what, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var value = await probe();
            if (accept(value)) return value;
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}; last seen: {value}");
            await Task.Delay(20);
        }
    }
}
