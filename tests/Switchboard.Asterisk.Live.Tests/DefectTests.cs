using Switchboard.Testing;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>Issue 13's defects 1, 2, 3 and 6, each on the real Asterisk as a user sees it: SIP at the phones, reply lines, events.</summary>
public sealed class DefectTests(DefectTests.Lab lab) : IClassFixture<DefectTests.Lab>, IAsyncLifetime
{
    public sealed class Lab : AsteriskLab;

    public async Task InitializeAsync()
    {
        if (AsteriskServer.SkipReason is null) await lab.ResetAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [SkippableFact]
    public async Task Defect1_MakeCall_shows_the_caller_to_the_called_phone_and_after_a_deflection_to_the_new_one()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        var from = lab.P101.LastInviteFrom();
        Assert.Contains("<sip:100@", from);
        Assert.DoesNotContain("101", from);

        Assert.StartsWith("200", await lab.Cti.CommandAsync("Redirect 101 102"));
        await lab.P102.WaitEventAsync("CALL_INCOMING");
        from = lab.P102.LastInviteFrom();
        Assert.Contains("<sip:100@", from);
        Assert.DoesNotContain("101", from);
        await lab.P102.CommandAsync("accept");
        await lab.P102.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2000);
        await lab.P102.CommandAsync("hangup");
        await lab.P100.WaitEventAsync("CALL_CLOSED");
        lab.P102.AssertHeard(AsteriskLab.Tone100);
    }

    [SkippableFact]
    public async Task Defect2_Answer_on_a_phone_that_ignores_NOTIFY_talk_is_followed_by_Failed_and_then_refused_with_501()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        await lab.Events.WaitEventAsync("Delivered 101");
        var reply = await lab.Cti.CommandAsync("Answer 101");
        if (reply.StartsWith("200", StringComparison.Ordinal))
        {
            // Accepted only while it is not known whether the phone obeys: then an event must say that it did not.
            var failed = await lab.Events.WaitEventAsync("Failed 101", "state=alerting");
            Assert.Contains("cause=", failed);
            reply = await lab.Cti.CommandAsync("Answer 101");
        }
        Assert.StartsWith("501", reply);
        Assert.Contains("alerting", await lab.Cti.CommandAsync("Status 101"));
        await lab.P100.CommandAsync("hangup");
        await lab.P101.WaitEventAsync("CALL_CLOSED");
    }

    [SkippableFact]
    public async Task Defect3_Conference_keeps_all_three_in_one_call_and_each_can_be_dropped()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100", "subject=101");
        await lab.P100.CommandAsync("hold");
        await lab.Events.WaitEventAsync("Held 100");
        await lab.P100.CommandAsync("dial", $"sip:102@127.0.0.1:{lab.Asterisk.SipPort}");
        await lab.P102.AnswerAsync();
        await lab.Events.WaitEventAsync("Established 100", "subject=102");

        var conference = await lab.Cti.CommandAsync("Conference 100");
        Assert.StartsWith("200", conference);
        Assert.Contains("100, 102, 101 moved", conference);
        await Task.Delay(3000);
        foreach (var (device, others) in new[] { ("100", new[] { "101", "102" }), ("101", ["100", "102"]), ("102", ["100", "101"]) })
        {
            var status = await lab.Cti.CommandAsync("Status " + device);
            Assert.True(status.Contains("=connected:", StringComparison.Ordinal) && others.All(o => status[status.IndexOf("calls:", StringComparison.Ordinal)..].Contains(o, StringComparison.Ordinal)),
                $"{status}\n{string.Join("\n", lab.Events.EventLines)}");
        }

        // One leaves: the other two keep talking and stay in the model.
        await lab.P102.CommandAsync("hangup");
        await lab.P102.WaitEventAsync("CALL_CLOSED");
        await lab.Events.WaitEventAsync("ConnectionCleared 102");
        lab.P102.AssertHeardTogether([AsteriskLab.Tone100, AsteriskLab.Tone101], own: AsteriskLab.Tone102);
        await Task.Delay(500);
        Assert.Contains("=connected:", await lab.Cti.CommandAsync("Status 100"));
        Assert.Contains("=connected:", await lab.Cti.CommandAsync("Status 101"));

        // Drop of a participant takes it out of the room.
        var drop = await lab.Cti.CommandAsync("Drop 101");
        Assert.StartsWith("200", drop);
        await lab.P101.WaitEventAsync("CALL_CLOSED");
        await lab.Events.WaitEventAsync("ConnectionCleared 100");
        await Poll.UntilAsync(() => lab.Asterisk.ChannelsAsync().Result.Count == 0, "the room emptied");
        Assert.Contains("idle", await lab.Cti.CommandAsync("Status 100"));
    }

    [SkippableFact]
    public async Task Defect6_a_call_to_a_device_with_do_not_disturb_ends_in_Failed_as_on_the_built_in_switch()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("Forward 101 *"));
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        var failed = await lab.Events.WaitEventAsync("Failed 100", "subject=101");
        Assert.Contains("cause=do_not_disturb", failed);
        await lab.P100.WaitEventAsync("CALL_CLOSED");
    }

    [SkippableFact]
    public async Task Defect6_a_callee_that_rejects_gives_Failed_with_the_SIP_status()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 101"));
        await lab.P100.AnswerAsync();
        await lab.P101.WaitEventAsync("CALL_INCOMING");
        await lab.Events.WaitEventAsync("Delivered 100", "subject=101");
        await lab.P101.CommandAsync("hangup");
        var failed = await lab.Events.WaitEventAsync("Failed 100", "subject=101");
        Assert.Contains("cause=486", failed);
        await lab.P100.WaitEventAsync("CALL_CLOSED");
    }

    [SkippableFact]
    public async Task Defect6_MakeCall_to_an_extension_without_an_endpoint_gives_Failed()
    {
        Live.RequireAsterisk();
        Assert.StartsWith("200", await lab.Cti.CommandAsync("MakeCall 100 199"));
        await lab.P100.AnswerAsync();
        var failed = await lab.Events.WaitEventAsync("Failed 100", "subject=199");
        Assert.DoesNotContain("ConnectionCleared 100", string.Join("\n", lab.Events.EventLines.TakeWhile(l => l != failed)));
        await lab.P100.WaitEventAsync("CALL_CLOSED");
    }
}

/// <summary>
/// Defect 4: an Asterisk without res_manager_devicestate (DeviceStateList unknown) and with phone 102 not registered.
/// </summary>
public sealed class NoDeviceStateModuleTests(NoDeviceStateModuleTests.Lab lab) : IClassFixture<NoDeviceStateModuleTests.Lab>
{
    public sealed class Lab : AsteriskLab
    {
        protected override string ExtraModules => "noload = res_manager_devicestate.so\n";

        protected override bool StartPhone102 => false;
    }

    [SkippableFact]
    public async Task Defect4_a_phone_that_is_not_registered_shows_unreachable_without_res_manager_devicestate()
    {
        Live.RequireAsterisk();
        Assert.Contains("unreachable", await lab.Cti.CommandAsync("Status 102"));
        Assert.Contains(": reachable", await lab.Cti.CommandAsync("Status 101"));
        Assert.StartsWith("480", await lab.Cti.CommandAsync("Pickup 102 101"));
    }
}
