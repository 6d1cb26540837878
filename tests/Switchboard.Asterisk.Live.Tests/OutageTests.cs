using Switchboard.Testing;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>Asterisk killed with SIGKILL in the middle of a call, then started again (issue 13 defect 5 and the re-sync).</summary>
public sealed class OutageTests(OutageTests.Lab lab) : IClassFixture<OutageTests.Lab>
{
    public sealed class Lab : AsteriskLab;

    [SkippableFact]
    public async Task Kill_9_mid_call_gives_503_for_every_command_and_Status_then_a_clean_resync_after_the_restart()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100", "subject=101");
        Assert.Contains("=connected:101", await lab.Cti.CommandAsync("Status 100"));

        lab.Asterisk.Kill();
        await Poll.UntilAsync(() => !lab.Connector.IsConnected, "Switchboard noticed the lost AMI connection");
        foreach (var command in new[] { "Status 100", "Status 101", "Drop 100", "MakeCall 102 100", "Forward 102 *", "Answer 101" })
            Assert.StartsWith("503", await lab.Cti.CommandAsync(command));

        // The phones never got a BYE: they hang up themselves, as users would on a dead line.
        await lab.P100.CommandAsync("hangup");
        await lab.P101.CommandAsync("hangup");
        await lab.Asterisk.RestartAsync();
        await Poll.UntilAsync(() => lab.Connector.IsConnected, "Switchboard logged in again", seconds: 40);
        foreach (var device in new[] { "100", "101", "102" })
        {
            var status = await lab.Cti.CommandAsync("Status " + device);
            Assert.StartsWith("200", status);
            Assert.Contains("idle", status);
        }
        Assert.Contains(lab.Events.EventLines, l => l.Contains("ConnectionCleared 100", StringComparison.Ordinal));

        // And the restarted Asterisk carries calls again. AstDB stores contacts in the background, so a kill can lose
        // the registrations: the phones register again, as they would at their next refresh.
        await lab.RestartPhonesAsync();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await Task.Delay(2000);
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Drop 101"));
        await lab.P100.WaitEventAsync("CALL_CLOSED");
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        lab.P100.AssertHeard(AsteriskLab.Tone101);
        lab.P101.AssertHeard(AsteriskLab.Tone100);
    }
}
