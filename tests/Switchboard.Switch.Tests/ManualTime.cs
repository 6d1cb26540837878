namespace Switchboard.Switch.Tests;

/// <summary>A clock the test moves by hand (a fake: only GetUtcNow is served).</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
