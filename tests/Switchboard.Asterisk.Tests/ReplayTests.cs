using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk.Tests;

/// <summary>The connector against replays of the recorded Asterisk 22 sessions.</summary>
public sealed class ReplayTests
{
    private static ReplayConnection Script(string prefix, int connection = 0) => Transcript.Load(prefix)[connection];

    [Fact]
    public async Task Login_banner_and_logoff_never_log_the_secret()
    {
        var server = new ReplayAmiServer(Script("01", 0));
        server.OptionalActions.Add("Ping");
        var h = await Harness.StartAsync(server);
        Assert.True(h.System.IsConnected);
        Assert.Equal("Asterisk Call Manager/11.0.0", h.System.Ami.Banner);
        await h.DisposeAsync();
        Assert.Contains(server.Received, p => p["Action"] == "Logoff");
        Assert.Empty(server.Mismatches);
        Assert.DoesNotContain(h.Logs.Lines, l => l.Contains("ctisecret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wrong_secret_is_a_login_error_and_commands_reply_503()
    {
        var server = new ReplayAmiServer(Script("01", 1));
        await using (var client = new AmiClient(new AmiClientOptions { Port = server.Port, Username = "cti", Secret = "wrongsecret" }))
        {
            var ex = await Assert.ThrowsAsync<AmiLoginException>(() => client.ConnectAsync(default));
            Assert.Contains("Authentication failed", ex.Message);
            Assert.False(client.IsConnected);
        }
        await server.DisposeAsync();

        var down = new ReplayAmiServer(Script("01", 1));
        var h = await Harness.StartAsync(down, waitConnected: false);
        await Task.Delay(200);
        var r = await h.System.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Unavailable, r.Code);
        await h.DisposeAsync();
        Assert.Contains(h.Logs.Lines, l => l.Contains("refused", StringComparison.Ordinal) && l.Contains("Authentication failed", StringComparison.Ordinal));
        Assert.DoesNotContain(h.Logs.Lines, l => l.Contains("ctisecret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MakeCall_originates_and_the_call_shows_like_the_built_in_switch()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("02")));
        var r = await h.System.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Ok, r.Code);
        var originate = h.Server.Received.Single(p => p["Action"] == "Originate");
        Assert.Equal("PJSIP/100", originate["Channel"]);
        Assert.Equal("101", originate["Exten"]);
        Assert.Equal("internal", originate["Context"]);
        Assert.Equal("true", originate["Async"]);
        Assert.StartsWith("cti-", originate["ChannelId"]);
        Assert.Contains("PJSIP_HEADER(add,Call-Info)=answer-after=0", originate.All("Variable"));
        // The device's phone is shown whom it calls; the called phone sees the device (its endpoint's caller ID), so
        // no CallerID travels with the Originate.
        Assert.Contains("CONNECTEDLINE(num)=101", originate.All("Variable"));
        Assert.Null(originate["CallerID"]);

        var originated = await h.EventAsync(CallEventType.Originated, "100");
        Assert.Equal(ConnectionState.Initiated, originated.State);
        var delivered = await h.EventAsync(CallEventType.Delivered, "101");
        Assert.Equal(ConnectionState.Alerting, delivered.State);
        Assert.Equal(originated.CallId, delivered.CallId);
        var established = await h.EventAsync(CallEventType.Established, "100");
        Assert.Equal(ConnectionState.Connected, established.State);
        await h.EventAsync(CallEventType.ConnectionCleared, "101");
        await h.EventAsync(CallEventType.ConnectionCleared, "100");
        Assert.Empty(h.System.Model.Status("100")!.Connections);
        Assert.Empty(h.System.Model.Status("101")!.Connections);
        Assert.Empty(h.Server.Mismatches);
    }

    [Fact]
    public async Task Originate_failures_give_the_right_reply_or_failure_event()
    {
        var server = new ReplayAmiServer(Script("03"))
        {
            // Devices the test does not have, and dial strings the connector never builds.
            Optional = e => ExpectStep.Header(e.Lines, "Channel") is "PJSIP/999" or "FOO/100" or "PJSIP100",
        };
        await using var h = await Harness.StartAsync(server);

        Assert.Equal(ReplyCode.Ok, (await h.System.MakeCallAsync("102", "101")).Code);
        var failed = await h.EventAsync(CallEventType.Failed, "102");
        Assert.Equal(ConnectionState.Failed, failed.State);
        Assert.Equal("phone unreachable, busy or refused", failed.Cause);

        // The recorded sync originate failed: Asterisk only says "Originate failed".
        var sync = await h.System.MakeCallAsync("102", "101");
        Assert.Equal(ReplyCode.Unreachable, sync.Code);

        Assert.Equal(ReplyCode.NotFound, (await h.System.MakeCallAsync("999", "101")).Code);

        int mark = h.Events.Count;
        Assert.Equal(ReplyCode.Ok, (await h.System.MakeCallAsync("100", "101")).Code); // 100 rejects (486)
        await h.EventAsync(CallEventType.Failed, "100", after: mark);
        mark = h.Events.Count;
        Assert.Equal(ReplyCode.Ok, (await h.System.MakeCallAsync("100", "101")).Code); // again, with ChannelId
        await h.EventAsync(CallEventType.Failed, "100", after: mark);
        mark = h.Events.Count;
        Assert.Equal(ReplyCode.Ok, (await h.System.MakeCallAsync("100", "101")).Code); // 100 does not answer
        var noAnswer = await h.EventAsync(CallEventType.Failed, "100", after: mark);
        Assert.Equal("no answer", noAnswer.Cause);
        mark = h.Events.Count;
        Assert.Equal(ReplyCode.Ok, (await h.System.MakeCallAsync("100", "199")).Code); // 199 matches _1XX but is no endpoint
        await h.EventAsync(CallEventType.ConnectionCleared, "100", after: mark);

        var unknown = await h.System.MakeCallAsync("100", "555");
        Assert.Equal(ReplyCode.NotFound, unknown.Code);
        Assert.Contains("555", unknown.Message);
        Assert.Empty(h.System.Model.Status("100")!.Connections);
        Assert.Empty(server.Mismatches);
    }

    [Fact]
    public async Task Drop_of_a_ringing_call_rejects_it()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("04")));
        await h.UntilAsync(() => h.StateOf("100") == ConnectionState.Alerting, "100 ringing");
        var delivered = await h.EventAsync(CallEventType.Delivered, "100");
        Assert.Equal("101", delivered.Calling);
        var r = await h.System.DropAsync("100");
        Assert.Equal(ReplyCode.Ok, r.Code);
        Assert.Contains("rejected", r.Message);
        await h.EventAsync(CallEventType.ConnectionCleared, "101");
        int mark = h.Events.Count;
        await h.UntilAsync(() => h.StateOf("100") == ConnectionState.Alerting, "100 ringing again");
        Assert.Equal(ReplyCode.Ok, (await h.System.DropAsync("100")).Code);
        await h.EventAsync(CallEventType.ConnectionCleared, "101", after: mark);
        Assert.Empty(h.System.Model.Status("100")!.Connections);
        Assert.Equal(ReplyCode.WrongState, (await h.System.DropAsync("100")).Code);
        Assert.Empty(h.Server.Mismatches);
    }

    [Fact]
    public async Task Redirect_of_a_ringing_call_deflects_it()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("05")));
        await h.UntilAsync(() => h.StateOf("100") == ConnectionState.Alerting, "100 ringing");
        var r = await h.System.RedirectAsync("100", "102");
        Assert.Equal(ReplyCode.Ok, r.Code);
        var diverted = await h.EventAsync(CallEventType.Diverted, "100");
        Assert.Equal("deflected by 100", diverted.Cause);
        await h.EventAsync(CallEventType.Delivered, "102");
        var est = await h.EventAsync(CallEventType.Established, "102");
        Assert.Equal(diverted.CallId, est.CallId);
        await h.EventAsync(CallEventType.ConnectionCleared, "102");
        Assert.Empty(h.System.Model.Calls);
        Assert.Empty(h.Server.Mismatches);
    }

    [Fact]
    public async Task Redirect_of_a_connected_call_is_a_blind_transfer()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("06")));
        await h.UntilAsync(() => h.StateOf("101") == ConnectionState.Connected && h.StateOf("100") == ConnectionState.Connected, "100-101 connected");
        var r = await h.System.RedirectAsync("101", "102");
        Assert.Equal(ReplyCode.Ok, r.Code);
        Assert.Contains(h.Server.Received, p => p["Action"] == "BlindTransfer" && p["Channel"] == "PJSIP/101-000000a3" && p["Exten"] == "102");
        var diverted = await h.EventAsync(CallEventType.Diverted, "101");
        Assert.Equal(ConnectionState.Null, diverted.State);
        await h.EventAsync(CallEventType.Delivered, "102");
        await h.EventAsync(CallEventType.Established, "102");
        // The Unhold that Asterisk sends for the transferer without a Hold is no Retrieved event.
        Assert.DoesNotContain(h.Events, e => e.Type == CallEventType.Retrieved);
        await h.EventAsync(CallEventType.ConnectionCleared, "102");
        Assert.Empty(h.System.Model.Calls);
    }

    [Fact]
    public async Task Conference_redirects_both_parties_into_the_room()
    {
        var server = new ReplayAmiServer(Script("09"));
        server.OptionalActions.Add("ConfbridgeList");
        // When 101 leaves, 100 is the last member of the conference call and alone in the room: the connector hangs it
        // up (the recording's phone hung up by itself a second later).
        server.ExtraAnswers["Hangup"] = [["Response: Success", "ActionID: x", "Message: Channel Hungup"]];
        await using var h = await Harness.StartAsync(server);
        await h.UntilAsync(() => h.StateOf("101") == ConnectionState.Connected && h.StateOf("100") == ConnectionState.Connected, "100-101 connected");
        var r = await h.System.ConferenceAsync("100");
        Assert.Equal(ReplyCode.Ok, r.Code);
        Assert.Contains("801", r.Message);
        var conf = await h.EventAsync(CallEventType.Conferenced, "101");
        Assert.Equal("conference 801", conf.Cause);
        await h.EventAsync(CallEventType.Conferenced, "100");
        await h.EventAsync(CallEventType.Conferenced, "102");
        await h.UntilAsync(() => h.System.Model.Calls.Count == 0, "all calls ended");
        Assert.Empty(server.Mismatches);
        Assert.Single(server.Received, p => p["Action"] == "Hangup" && p["Channel"]!.StartsWith("PJSIP/100-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pickup_takes_the_ringing_call()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("10")));
        await h.UntilAsync(() => h.StateOf("101") == ConnectionState.Alerting, "101 ringing");
        Assert.Equal(ReplyCode.BadRequest, (await h.System.PickupAsync("101", "101")).Code);
        Assert.Equal(ReplyCode.WrongState, (await h.System.PickupAsync("101", "102")).Code);
        var r = await h.System.PickupAsync("102", "101");
        Assert.Equal(ReplyCode.Ok, r.Code);
        var diverted = await h.EventAsync(CallEventType.Diverted, "101");
        Assert.Equal("picked up by 102", diverted.Cause);
        var est = await h.EventAsync(CallEventType.Established, "102");
        Assert.Equal(diverted.CallId, est.CallId);
        Assert.Equal("100", est.Calling);
        // Part B: the phone dials *8101 itself; the same model change follows.
        await h.UntilAsync(() => h.Events.Count(e => e.Type == CallEventType.Diverted && e.Device == "101") == 2, "second pickup");
        await h.UntilAsync(() => h.System.Model.Calls.Count == 0, "all calls ended");
        Assert.Empty(h.Server.Mismatches);
    }

    [Fact]
    public async Task Forward_and_dnd_are_stored_in_astdb()
    {
        var script = Script("11");
        var server = new ReplayAmiServer(script);
        server.OptionalActions.UnionWith(["DBGet", "DBGetTree"]);
        server.Answer("DBDel", script.AnswerTo("DBDel", 2)); // "Database entry could not be deleted": no such key
        await using var h = await Harness.StartAsync(server);

        var fwd = await h.System.ForwardAsync("100", ForwardingSetting.To("101"));
        Assert.Equal(ReplyCode.Ok, fwd.Code);
        Assert.Contains(server.Received, p => p["Action"] == "DBPut" && p["Family"] == "CF" && p["Key"] == "100" && p["Val"] == "101");
        await h.EventAsync(CallEventType.Forwarding, "100", e => e.Called == "101");

        var dnd = await h.System.ForwardAsync("100", ForwardingSetting.Dnd);
        Assert.Equal(ReplyCode.Ok, dnd.Code);
        Assert.Contains(server.Received, p => p["Action"] == "DBPut" && p["Family"] == "DND" && p["Val"] == "YES");
        await h.EventAsync(CallEventType.DoNotDisturb, "100", e => e.Cause == "on");
        Assert.Equal(ForwardingMode.DoNotDisturb, h.System.Model.GetForwarding("100").Mode);

        var off = await h.System.ForwardAsync("100", ForwardingSetting.Off);
        Assert.Equal(ReplyCode.Ok, off.Code);
        await h.EventAsync(CallEventType.DoNotDisturb, "100", e => e.Cause == "off");
        Assert.Equal(ForwardingMode.None, h.System.Model.GetForwarding("100").Mode);
        Assert.Equal(ReplyCode.NotFound, (await h.System.ForwardAsync("555", ForwardingSetting.Dnd)).Code);
        Assert.Empty(server.Mismatches);
    }

    [Fact]
    public async Task Status_shows_the_call_and_device_reachability_follows_registration()
    {
        var server = new ReplayAmiServer(Script("12"));
        server.OptionalActions.UnionWith(["CoreShowChannels", "Status", "PJSIPShowEndpoints", "PJSIPShowContacts", "ExtensionStateList",
            "ExtensionState", "DeviceStateList", "Ping", "CoreSettings", "CoreStatus", "Command", "Getvar"]);
        server.PauseAt = e => e.Action == "CoreShowChannels"; // the recorder's snapshot moment: the call is up
        await using var h = await Harness.StartAsync(server);
        await h.UntilAsync(() => h.StateOf("101") == ConnectionState.Connected, "101 connected");
        var status = h.System.Model.Status("100")!;
        Assert.Equal(ConnectionState.Connected, status.Connections.Single().State);
        Assert.Equal(["101"], status.Connections.Single().Partners);
        Assert.True(h.System.Model.IsReachable("102")); // registered at the start of the recording
        server.Resume();
        await h.UntilAsync(() => !h.System.Model.IsReachable("102"), "102 unregistered");
        Assert.False(h.System.Model.Status("102")!.Reachable);
        var r = await h.System.MakeCallAsync("102", "100");
        Assert.Equal(ReplyCode.Unreachable, r.Code);
        Assert.Empty(h.System.Model.Calls);
    }

    [Fact]
    public async Task Hold_and_unhold_by_the_phones_show_as_held_and_retrieved()
    {
        await using var h = await Harness.StartAsync(new ReplayAmiServer(Script("13")));
        var held = await h.EventAsync(CallEventType.Held, "100");
        Assert.Equal(ConnectionState.Held, held.State);
        var retrieved = await h.EventAsync(CallEventType.Retrieved, "100");
        Assert.Equal(ConnectionState.Connected, retrieved.State);
        var seenBy101 = await h.EventAsync(CallEventType.Held, "101");
        Assert.Equal(ConnectionState.Connected, seenBy101.State); // 101 sees its partner hold
        var held101 = await h.EventAsync(CallEventType.Held, "101", e => e.Subject == "101");
        Assert.Equal(ConnectionState.Held, held101.State);
        await h.EventAsync(CallEventType.Retrieved, "101", e => e.Subject == "101");
        Assert.Equal(ReplyCode.NotImplemented, (await h.System.ToggleAsync("100")).Code);
    }

    [Fact]
    public async Task After_a_lost_connection_the_state_is_read_again_and_stale_calls_are_cleared()
    {
        var first = Script("12").CutBefore("CoreShowChannels");
        // The call ended while the connection was down: the fresh CoreShowChannels (the replay's empty list) shows no channel.
        var server = new ReplayAmiServer(first, LoginOnly());
        await using var h = await Harness.StartAsync(server);
        await h.EventAsync(CallEventType.Established, "101");
        await h.UntilAsync(() => server.Received.Count(p => p["Action"] == "Login") == 2, "reconnected");
        await h.UntilAsync(() => h.System.IsConnected, "logged in again");
        await h.EventAsync(CallEventType.ConnectionCleared, "100");
        Assert.Empty(h.System.Model.Status("100")!.Connections);
        Assert.Empty(h.System.Model.Calls);
    }

    [Fact]
    public async Task After_a_lost_connection_a_call_still_up_is_rebuilt_from_CoreShowChannels()
    {
        var script = Script("12");
        var server = new ReplayAmiServer(script.CutBefore("CoreShowChannels"), LoginOnly());
        server.Answer("CoreShowChannels", script.AnswerTo("CoreShowChannels", 0));
        await using var h = await Harness.StartAsync(server);
        await h.UntilAsync(() => server.Received.Count(p => p["Action"] == "Login") == 2, "reconnected");
        await h.UntilAsync(() => h.System.IsConnected && h.StateOf("101") == ConnectionState.Connected, "call re-read");
        var s = h.System.Model.Status("100")!;
        Assert.Equal(ConnectionState.Connected, s.Connections.Single().State);
        Assert.Equal(["101"], s.Connections.Single().Partners);
        Assert.Single(h.System.Model.Calls);
    }

    [Fact]
    public async Task A_refused_channel_re_read_keeps_the_calls_instead_of_clearing_them()
    {
        var script = Script("12");
        var server = new ReplayAmiServer(script.CutBefore("CoreShowChannels"), LoginOnly());
        // Every CoreShowChannels is refused, as for an AMI user without write=system.
        server.Answer("CoreShowChannels", [["Response: Error", "ActionID: x", "Message: Permission denied"]]);
        await using var h = await Harness.StartAsync(server);
        await h.EventAsync(CallEventType.Established, "101");
        await h.UntilAsync(() => server.Received.Count(p => p["Action"] == "Login") == 2 && h.System.IsConnected, "reconnected");
        Assert.Equal(ConnectionState.Connected, h.StateOf("100"));
        Assert.Contains(h.Logs.Lines, l => l.Contains("Could not re-read the channels (Permission denied)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Forwarding_is_read_from_astdb_at_login()
    {
        var server = new ReplayAmiServer(LoginOnly());
        server.Answer("DBGetTree", Script("11").AnswerTo("DBGetTree", 0)); // CF/100 = 101 (also given for DND: only /DND/ keys count there)
        await using var h = await Harness.StartAsync(server);
        Assert.Equal(ForwardingSetting.To("101"), h.System.Model.GetForwarding("100"));
        Assert.Equal(ForwardingSetting.Off, h.System.Model.GetForwarding("101"));
        await h.EventAsync(CallEventType.Forwarding, "100", e => e.Called == "101");
        Assert.Contains(server.Received, p => p["Action"] == "DBGetTree" && p["Family"] == "DND");
    }

    private static ReplayConnection LoginOnly() => new("login only",
    [
        new BannerStep("Asterisk Call Manager/11.0.0"),
        new ExpectStep(["Action: Login", "Username: cti", "ActionID: login-x"]),
        new SendStep(["Response: Success", "ActionID: login-x", "Message: Authentication accepted"]),
    ]);
}

/// <summary>Commands without a recording of their own, on recorded call states with the answers Asterisk gives.</summary>
public sealed class EditedReplayTests
{
    private static ReplayConnection Script(string prefix) => Transcript.Load(prefix)[0];

    [Fact]
    public async Task Answer_asks_the_ringing_phone_with_a_talk_notify_and_maps_an_error_to_501()
    {
        // No recording has a PJSIPNotify: the call rings as recorded, the answers to the NOTIFY are written here.
        var script = Script("04").Before("Hangup", new ExpectStep(["Action: Logoff"]));
        var server = new ReplayAmiServer(script);
        await using var h = await Harness.StartAsync(server);
        Assert.Equal(ReplyCode.WrongState, (await h.System.AnswerAsync("102")).Code);
        await h.UntilAsync(() => h.StateOf("100") == ConnectionState.Alerting, "100 ringing");
        server.Answer("PJSIPNotify", [["Response: Success", "ActionID: x", "Message: NOTIFY sent"]]);
        var ok = await h.System.AnswerAsync("100");
        Assert.Equal(ReplyCode.Ok, ok.Code);
        var notify = h.Server.Received.Last(p => p["Action"] == "PJSIPNotify");
        Assert.Equal("100", notify["Endpoint"]);
        Assert.Equal("Event=talk", notify["Variable"]);
        server.Answer("PJSIPNotify", [["Response: Error", "ActionID: x", "Message: Unable to send NOTIFY"]]);
        var fail = await h.System.AnswerAsync("100");
        Assert.Equal(ReplyCode.NotImplemented, fail.Code);
        Assert.Contains("Unable to send NOTIFY", fail.Message);
    }

    [Fact]
    public async Task Drop_of_a_channel_Asterisk_no_longer_has_is_409_and_Transfer_without_a_held_call_is_409()
    {
        var script = Script("06").Before("BlindTransfer", new ExpectStep(["Action: Logoff"]));
        var server = new ReplayAmiServer(script);
        server.Answer("Hangup", [["Response: Error", "ActionID: x", "Message: No such channel"]]); // as recorded in 14
        await using var h = await Harness.StartAsync(server);
        await h.UntilAsync(() => h.StateOf("101") == ConnectionState.Connected && h.StateOf("100") == ConnectionState.Connected, "connected");
        var drop = await h.System.DropAsync("101");
        Assert.Equal(ReplyCode.WrongState, drop.Code);
        Assert.Contains("already ended", drop.Message);
        Assert.Equal(ReplyCode.WrongState, (await h.System.TransferAsync("101")).Code);
        Assert.Equal(ReplyCode.NotFound, (await h.System.DropAsync("555")).Code);
        Assert.Equal(ReplyCode.BadRequest, (await h.System.RedirectAsync("101", "101")).Code);
    }

    [Theory]
    [InlineData("07")]
    [InlineData("08")]
    public async Task Recorded_sessions_with_local_channels_and_bridges_leave_no_stale_call(string prefix)
    {
        var server = new ReplayAmiServer(Script(prefix)) { Optional = e => e.Action != "Login" && e.Action != "Logoff" };
        await using var h = await Harness.StartAsync(server);
        await h.UntilAsync(() => server.Received.Count > 0 && h.Events.Count > 0 && h.System.Model.Calls.Count == 0
            && h.Events.Count(e => e.Type == CallEventType.ConnectionCleared) >= 2, "all calls cleared");
        Assert.DoesNotContain(h.Logs.Lines, l => l.Contains("failed", StringComparison.OrdinalIgnoreCase) && l.Contains("handler", StringComparison.OrdinalIgnoreCase));
        if (prefix == "07")
        {
            // Part B is an originate by someone else (extension "s"): the call is named after the leg it dials.
            Assert.Contains(h.Events, e => e.Type == CallEventType.Originated && e.Device == "100" && e.Called == "101");
            // The phone's hold for the consultation shows, and 102 ends up talking to 101.
            Assert.Contains(h.Events, e => e.Type == CallEventType.Held && e.Device == "100" && e.State == ConnectionState.Held);
            Assert.Contains(h.Events, e => e.Type == CallEventType.Established && e.Device == "101" && e.Subject == "102");
        }
    }
}
