using Switchboard.Testing;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>The commands on a real Asterisk with real phones; tones checked at the phones.</summary>
public sealed class CommandTests(CommandTests.Lab lab) : IClassFixture<CommandTests.Lab>, IAsyncLifetime
{
    public sealed class Lab : AsteriskLab;

    public async Task InitializeAsync()
    {
        if (AsteriskServer.SkipReason is null) await lab.ResetAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [SkippableFact]
    public async Task MakeCall_rings_the_device_then_the_destination_and_each_hears_the_other()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100", "subject=101");
        await Task.Delay(2500);
        await lab.P100.CommandAsync("hangup");
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        await lab.Events.WaitEventAsync("ConnectionCleared 101");
        lab.P100.AssertHeard(AsteriskLab.Tone101);
        lab.P101.AssertHeard(AsteriskLab.Tone100);
    }
}
