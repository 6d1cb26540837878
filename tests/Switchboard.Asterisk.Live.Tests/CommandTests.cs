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

    [SkippableFact]
    public async Task Drop_rejects_a_ringing_call_and_hangs_up_a_connected_one()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        await lab.Events.WaitEventAsync("Delivered 101");
        Assert.Contains("rejected", await lab.Cti.CommandAsync("Drop 101"));
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        await lab.P100.WaitEventAsync("CALL_CLOSED");
        await Poll.UntilAsync(() => lab.Connector.Model.Calls.Count == 0, "the call ended");

        lab.P100.DiscardEvents();
        lab.P101.DiscardEvents();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 101");
        Assert.Contains("hung up", await lab.Cti.CommandAsync("Drop 100"));
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        Assert.Contains("idle", await lab.Cti.CommandAsync("Status 101"));
    }

    [SkippableFact]
    public async Task Redirect_of_a_connected_call_transfers_the_partner_and_the_target_hears_it()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 101");
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Redirect 101 102"));
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        await lab.P102.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 102");
        Assert.Contains("=connected:100", await lab.Cti.CommandAsync("Status 102"));
        await Task.Delay(2000);
        await lab.P102.CommandAsync("hangup");
        await lab.P100.WaitEventAsync("CALL_CLOSED");
        lab.P102.AssertHeard(AsteriskLab.Tone100);
        lab.P100.AssertHeardTogether([AsteriskLab.Tone102], own: AsteriskLab.Tone100);
    }

    [SkippableFact]
    public async Task Transfer_joins_the_held_and_the_active_partner()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 101");
        await lab.P100.CommandAsync("hold");
        await lab.Events.WaitEventAsync("Held 100");
        await lab.P100.CommandAsync("dial", $"sip:102@127.0.0.1:{lab.Asterisk.SipPort}");
        await lab.P102.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100", "subject=102");
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Transfer 100"));
        await Poll.UntilAsync(() => lab.Cti.CommandAsync("Status 100").Result.Contains("idle", StringComparison.Ordinal), "100 left both calls");
        Assert.Contains("=connected:102", await lab.Cti.CommandAsync("Status 101"));
        await Task.Delay(2000);
        await lab.P102.CommandAsync("hangup");
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        lab.P102.AssertHeardTogether([AsteriskLab.Tone101], own: AsteriskLab.Tone102);
        lab.P101.AssertHeardTogether([AsteriskLab.Tone102], own: AsteriskLab.Tone101);
    }

    [SkippableFact]
    public async Task Pickup_takes_the_ringing_call_and_the_picker_talks_to_the_caller()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        await lab.Events.WaitEventAsync("Delivered 101");
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Pickup 102 101"));
        await lab.P102.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        await lab.Events.WaitEventAsync("Established 102");
        Assert.Contains("=connected:100", await lab.Cti.CommandAsync("Status 102"));
        Assert.Contains("idle", await lab.Cti.CommandAsync("Status 101"));
        await Task.Delay(2000);
        await lab.P100.CommandAsync("hangup");
        await lab.P102.WaitEventAsync("CALL_CLOSED");
        lab.P102.AssertHeard(AsteriskLab.Tone100);
    }

    [SkippableFact]
    public async Task Forward_sends_calls_to_the_target_and_Toggle_says_501()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Forward 101 102"));
        Assert.Contains("forward 102", await lab.Cti.CommandAsync("Status 101"));
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P102.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100");
        Assert.StartsWith("501", await lab.Cti.CommandAsync("Toggle 100"));
        await Task.Delay(1500);
        await lab.P100.CommandAsync("hangup");
        await lab.P102.WaitEventAsync("CALL_CLOSED");
        lab.P102.AssertHeard(AsteriskLab.Tone100);
        Assert.Matches(@"/CF/101\s*:\s*102", await lab.Asterisk.CliAsync("database show CF"));
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Forward 101"));
        Assert.DoesNotContain("/CF/101", await lab.Asterisk.CliAsync("database show CF"));
    }

    [SkippableFact]
    public async Task A_call_dialled_on_a_phone_shows_in_Monitor_like_on_the_built_in_switch()
    {
        Live.RequireAsterisk();
        await lab.P100.CommandAsync("dial", $"sip:101@127.0.0.1:{lab.Asterisk.SipPort}");
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        await lab.Events.WaitEventAsync("Originated 100", "called=101");
        await lab.Events.WaitEventAsync("Delivered 101", "state=alerting");
        await lab.P101.CommandAsync("accept");
        await lab.Events.WaitEventAsync("Established 100", "state=connected");
        await Task.Delay(1500);
        await lab.P101.CommandAsync("hangup");
        await lab.Events.WaitEventAsync("ConnectionCleared 100");
        await lab.P100.WaitEventAsync("CALL_CLOSED");
        lab.P100.AssertHeard(AsteriskLab.Tone101);
        lab.P101.AssertHeard(AsteriskLab.Tone100);
    }
}
