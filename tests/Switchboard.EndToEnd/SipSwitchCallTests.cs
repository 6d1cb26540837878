using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Telephony;

namespace Switchboard.EndToEnd;

/// <summary>Real baresip phones register with digest auth and call each other through the built-in SIP switch.</summary>
public sealed class SipSwitchCallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-sip-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Phone_calls_phone_through_the_switch_and_both_hear_each_other_then_either_side_hangs_up()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("p100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("p101", _dir, server.Account("101"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        using var events = server.Switch.Model.Events.Subscribe("100");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Equal(ConnectionState.Connected, server.Switch.Model.ConnectionsOf("100").Single().State);
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        Assert.Equal(1000, alice.ReceivedFrequency());
        Assert.Equal(440, bob.ReceivedFrequency());
        Assert.Empty(server.Switch.Model.ConnectionsOf("101"));
        var seen = new List<CallEventType>();
        while (events.Reader.TryRead(out var e)) seen.Add(e.Type);
        Assert.Equal([CallEventType.Originated, CallEventType.Delivered, CallEventType.Established, CallEventType.ConnectionCleared], seen.Distinct());

        // Second call, the callee hangs up this time.
        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await bob.CommandAsync("hangup");
        await alice.WaitEventAsync("CALL_CLOSED");
        Assert.Empty(server.Switch.Model.ConnectionsOf("100"));
    }
}

/// <summary>Hold from the phone's own button, and a phone on TCP.</summary>
public sealed class SipSwitchFeatureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-sipf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Hold_and_resume_from_the_phone_pass_through_the_switch_and_the_call_stays_up()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("h100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("h101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        var hold = await alice.CommandAsync("hold");
        Assert.True((bool?)hold["ok"]);
        // bob's side sees the relayed re-INVITE as a new remote SDP; the call stays up on both legs.
        await bob.WaitEventAsync("CALL_REMOTE_SDP");
        Assert.Equal(ConnectionState.Connected, server.Switch.Model.ConnectionsOf("101").Single().State);
        // The hold key shows as the same Held state a CTI hold gives.
        await WaitStateAsync(server, "100", ConnectionState.Held);
        var resume = await alice.CommandAsync("resume");
        Assert.True((bool?)resume["ok"]);
        await bob.WaitEventAsync("CALL_REMOTE_SDP");
        await WaitStateAsync(server, "100", ConnectionState.Connected);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
    }

    private static async Task WaitStateAsync(SwitchboardServer server, string device, ConnectionState state)
    {
        for (int i = 0; i < 100 && server.Switch.Model.ConnectionsOf(device).SingleOrDefault()?.State != state; i++) await Task.Delay(50);
        Assert.Equal(state, server.Switch.Model.ConnectionsOf(device).Single().State);
    }

    [Fact]
    public async Task Blind_transfer_from_the_phone_key_moves_the_partner_to_the_target()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("b100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("b101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await using var carol = await Baresip.StartAsync("b102", _dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        using var events = server.Switch.Model.Events.Subscribe("100");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await alice.CommandAsync("transfer", $"sip:102@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_CLOSED");
        try { await carol.WaitEventAsync("CALL_INCOMING"); } catch (TimeoutException) { Assert.Fail(alice.LogTail(150)); }
        await carol.CommandAsync("accept");
        await carol.WaitEventAsync("CALL_ESTABLISHED");
        await WaitStateAsync(server, "102", ConnectionState.Connected);
        Assert.Equal("101", server.Switch.Model.PartnersOf(server.Switch.Model.ConnectionsOf("102").Single()).Single().Party);
        Assert.Empty(server.Switch.Model.ConnectionsOf("100"));
        await Task.Delay(2500);
        await carol.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
        // carol's call is fresh: her recording shows she heard bob.
        Assert.Equal(1000, carol.ReceivedFrequency());
        await SipConferenceTests.WaitMediaReleasedAsync(server);
        var seen = new List<CallEventType>();
        while (events.Reader.TryRead(out var e)) seen.Add(e.Type);
        Assert.Contains(CallEventType.Diverted, seen);
    }

    [Fact]
    public async Task A_phone_registered_over_tcp_is_called_and_hears_the_caller()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("t100", _dir, server.Account("100"), "tone:440");
        var tcpAccount = server.Account("101", answerMode: "auto").Replace($":{server.SipPort}>", $":{server.SipPort};transport=tcp>", StringComparison.Ordinal);
        await using var bob = await Baresip.StartAsync("t101", _dir, tcpAccount, "tone:1000");
        await server.WaitRegisteredAsync("100", "101");

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(440, bob.ReceivedFrequency());
        Assert.Equal(1000, alice.ReceivedFrequency());
    }
}

/// <summary>The IP interface on SIP phones: what works on the switch today, and the clear 501 for what does not yet.</summary>
public sealed class SipSwitchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-sipcmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Drop_over_the_ip_interface_ends_a_call_between_two_real_phones_and_monitor_saw_it()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("d100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("d101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("200 Monitor 101", await client.CommandAsync("Monitor 101"));

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Contains("=connected:100", await client.CommandAsync("Status 101"));
        Assert.StartsWith("409 Answer 101: no ringing call", await client.CommandAsync("Answer 101"));
        Assert.StartsWith("200 Drop 101", await client.CommandAsync("Drop 101"));
        await alice.WaitEventAsync("CALL_CLOSED");
        await bob.WaitEventAsync("CALL_CLOSED");
        var events = await client.ReadEventsAsync(e => e.Contains("ConnectionCleared 101", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Contains("Delivered 101", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Contains("Established 101", StringComparison.Ordinal));
    }
}

/// <summary>MakeCall on real SIP phones: the caller's phone is rung first, then the destination; both hear each other.</summary>
public sealed class SipMakeCallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-mk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task MakeCall_rings_the_callers_phone_then_the_destination_and_connects_them()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        // baresip 1.0 ignores auto-answer headers: the caller's phone is set to auto-answer as a person would.
        await using var alice = await Baresip.StartAsync("m100", _dir, server.Account("100", answerMode: "auto"), "tone:440");
        await using var bob = await Baresip.StartAsync("m101", _dir, server.Account("101"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("200 Monitor 100", await client.CommandAsync("Monitor 100"));

        Assert.StartsWith("200 MakeCall 100 101", await client.CommandAsync("MakeCall 100 101"));
        var incoming = await bob.WaitEventAsync("CALL_INCOMING");
        Assert.Contains("100", (string?)incoming["peeruri"]);
        await bob.CommandAsync("accept");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await client.ReadEventsAsync(e => e.Contains("Established 100", StringComparison.Ordinal));
        Assert.Contains("=connected:101", await client.CommandAsync("Status 100"));
        await Task.Delay(2500);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await alice.WaitEventAsync("CALL_CLOSED");
        await SipConferenceTests.WaitMediaReleasedAsync(server);
        // The switch anchored the media from the start, so neither phone got a re-INVITE and both recordings are
        // whole (baresip stops recording the received side after a re-INVITE): each heard the other.
        Assert.Equal(440, bob.ReceivedFrequency());
        Assert.Equal(1000, alice.ReceivedFrequency());
        var events = await client.ReadEventsAsync(e => e.Contains("ConnectionCleared 100", StringComparison.Ordinal));
        Assert.True(events.FindIndex(e => e.Contains("Originated 100", StringComparison.Ordinal)) < events.FindIndex(e => e.Contains("Delivered 100", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task MakeCall_from_or_to_an_unregistered_extension_is_480()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("480 MakeCall 100 101: no phone registered at 100", await client.CommandAsync("MakeCall 100 101"));
        Assert.StartsWith("404 MakeCall 100 0891234567", await client.CommandAsync("MakeCall 100 0891234567"));
    }
}

/// <summary>Redirect and Pickup of a ringing call between real phones.</summary>
public sealed class SipRetargetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-rt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static async Task WaitStatusAsync(LineClient client, string device, string contains)
    {
        string last = "";
        for (int i = 0; i < 100; i++)
        {
            last = await client.CommandAsync("Status " + device);
            if (last.Contains(contains, StringComparison.Ordinal)) return;
            await Task.Delay(50);
        }
        Assert.Fail($"Status {device} never contained '{contains}': {last}");
    }

    [Fact]
    public async Task Redirect_moves_the_ringing_call_to_another_phone_which_then_talks_to_the_caller()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("r100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("r101", _dir, server.Account("101"), "tone:1000");
        await using var carol = await Baresip.StartAsync("r102", _dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await WaitStatusAsync(client, "101", "=alerting:100");
        // baresip 1.0 takes neither NOTIFY talk nor auto-answer hints: Answer says so instead of doing nothing.
        Assert.StartsWith("501 Answer 101", await client.CommandAsync("Answer 101"));
        Assert.StartsWith("200 Redirect 101 102", await client.CommandAsync("Redirect 101 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await carol.WaitEventAsync("CALL_INCOMING");
        await carol.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await carol.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(1700, alice.ReceivedFrequency());
        Assert.Equal(440, carol.ReceivedFrequency());
    }

    [Fact]
    public async Task Pickup_takes_the_ringing_call_to_the_picking_phone()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("p100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("p101", _dir, server.Account("101"), "tone:1000");
        // baresip ignores the auto-answer hints of the pickup INVITE, so the picking phone auto-answers.
        await using var dave = await Baresip.StartAsync("p103", _dir, server.Account("103", answerMode: "auto"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "103");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await WaitStatusAsync(client, "101", "=alerting:100");
        Assert.StartsWith("409 Pickup 103 102", await client.CommandAsync("Pickup 103 102"));
        Assert.StartsWith("200 Pickup 103 101", await client.CommandAsync("Pickup 103 101"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await WaitStatusAsync(client, "103", "=connected:100");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await dave.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(1700, alice.ReceivedFrequency());
        Assert.Equal(440, dave.ReceivedFrequency());
    }
}

/// <summary>Consultation, Toggle, Transfer and the blind transfer of a connected call, on real phones.</summary>
public sealed class SipTransferTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-tx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Consultation_toggle_and_transfer_leave_the_two_far_parties_talking_to_each_other()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var phones = await ConsultationSetup.StartAsync(server, _dir, "x");
        var (ctl, alice, bob, client) = (phones.Controller, phones.Alice, phones.Bob, phones.Client);
        Assert.Contains("=held:101", await client.CommandAsync("Status 100"));

        // The held party (alice) hears nothing from the controller: no packets reach her while she is held.
        var aliceHeld1 = await alice.RtpAsync();
        await Task.Delay(1000);
        var aliceHeld2 = await alice.RtpAsync();
        Assert.Equal(aliceHeld1.Received.Values.Sum(), aliceHeld2.Received.Values.Sum());

        Assert.StartsWith("200 Toggle 100", await client.CommandAsync("Toggle 100"));
        var status = await client.CommandAsync("Status 100");
        Assert.Contains("=connected:101", status);
        Assert.Contains("=held:102", status);
        // Now bob is held and alice is back: bob receives nothing, alice receives the controller again.
        var bobHeld1 = await bob.RtpAsync();
        var aliceBack1 = await alice.RtpAsync();
        await Task.Delay(1000);
        var bobHeld2 = await bob.RtpAsync();
        var aliceBack2 = await alice.RtpAsync();
        Assert.Equal(bobHeld1.Received.Values.Sum(), bobHeld2.Received.Values.Sum());
        Assert.True(aliceBack2.Received.Values.Sum() > aliceBack1.Received.Values.Sum() + 20, "alice hears the controller again after Toggle");

        Assert.StartsWith("200 Transfer 100", await client.CommandAsync("Transfer 100"));
        await ctl.WaitEventAsync("CALL_CLOSED");
        await SipRetargetTests.WaitStatusAsync(client, "101", "=connected:102");
        var status100 = await client.CommandAsync("Status 100");
        Assert.False(LineClient.ShowsCall(status100), status100);
        await Task.Delay(2000);
        // bob's call came from MakeCall, so its media runs through the switch's mixer; alice's phone-to-phone call
        // was re-INVITEd to the switch when it was joined to bob's. Both now receive and play the other's audio.
        var a1 = await alice.RtpAsync();
        var b1 = await bob.RtpAsync();
        await Task.Delay(1000);
        var a = await alice.RtpAsync();
        var b = await bob.RtpAsync();
        Assert.Equal("sendrecv", a.Direction);
        Assert.Equal("sendrecv", b.Direction);
        Assert.True(a.Received.Values.Sum() > a1.Received.Values.Sum() + 40, "alice receives after the transfer");
        Assert.True(b.Received.Values.Sum() > b1.Received.Values.Sum() + 40, "bob receives after the transfer");
        Assert.NotEqual(a1.JitterSeqPut, a.JitterSeqPut);
        Assert.NotEqual(b1.JitterSeqPut, b.JitterSeqPut);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
        // bob's phone never got a re-INVITE (hold was done in the mixer), so his recording is whole: he heard alice.
        bob.AssertHeardTogether([440], own: 1700);
        await SipConferenceTests.WaitMediaReleasedAsync(server);
        var events = await client.ReadEventsAsync(e => e.Contains("Transferred", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Contains("Held 100", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Contains("Retrieved 100", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Redirect_of_a_connected_makecall_call_moves_the_partner_in_the_mixer_and_both_recorders_hear_it()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("z100", _dir, server.Account("100", answerMode: "auto"), "tone:440");
        await using var bob = await Baresip.StartAsync("z101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await using var carol = await Baresip.StartAsync("z102", _dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        // A MakeCall call: its media runs through the switch, so moving alice to carol needs no re-INVITE to alice.
        Assert.StartsWith("200 MakeCall 100 101", await client.CommandAsync("MakeCall 100 101"));
        await SipRetargetTests.WaitStatusAsync(client, "101", "=connected:100");
        Assert.StartsWith("200 Redirect 101 102", await client.CommandAsync("Redirect 101 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await carol.WaitEventAsync("CALL_INCOMING");
        await carol.CommandAsync("accept");
        await carol.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:102");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await carol.WaitEventAsync("CALL_CLOSED");
        carol.AssertHeardTogether([440], own: 1700);
        alice.AssertHeardTogether([1700], own: 440);
        await SipConferenceTests.WaitMediaReleasedAsync(server);
    }

    [Fact]
    public async Task Redirect_of_a_connected_call_transfers_the_partner_to_the_target()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("y100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("y101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await using var carol = await Baresip.StartAsync("y102", _dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "101", "=connected:100");
        Assert.StartsWith("200 Redirect 101 102", await client.CommandAsync("Redirect 101 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await carol.WaitEventAsync("CALL_INCOMING");
        await carol.CommandAsync("accept");
        await carol.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:102");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await carol.WaitEventAsync("CALL_CLOSED");
        // carol's call is fresh, so her recording is whole: she heard alice (alice waited in the switch's mixer).
        Assert.Equal(440, carol.ReceivedFrequency());
        await SipConferenceTests.WaitMediaReleasedAsync(server);
    }
}

/// <summary>A three-party conference mixed by the switch, on real phones.</summary>
public sealed class SipConferenceTests : IDisposable
{
    /// <summary>Every RTP socket and mixer of ended calls is closed again (none leak).</summary>
    internal static async Task WaitMediaReleasedAsync(SwitchboardServer server)
    {
        for (int i = 0; i < 100 && server.Switch.MediaInUse != (0, 0); i++) await Task.Delay(50);
        Assert.Equal((0, 0), server.Switch.MediaInUse);
    }

    private readonly string _dir = Directory.CreateTempSubdirectory("sb-conf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Conference_mixes_three_phones_and_two_stay_connected_when_one_leaves()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        // Both calls come from MakeCall, so all media is anchored in the switch from the start and no phone gets a
        // re-INVITE: every recording stays whole and the mix can be checked at each phone.
        await using var phones = await ConsultationSetup.StartAsync(server, _dir, "c", firstCallByCti: true);
        var (ctl, alice, bob, client) = (phones.Controller, phones.Alice, phones.Bob, phones.Client);

        var reply = await client.CommandAsync("Conference 100");
        Assert.StartsWith("200 Conference 100", reply);
        await ctl.WaitEventAsync("CALL_CLOSED"); // the controller's held call is released: one call left on its phone
        var status = await client.CommandAsync("Status 100");
        Assert.Contains("101", status);
        Assert.Contains("102", status);
        // Every phone now sends to the switch's mixer and receives the mix from it. (baresip stops recording what it
        // receives after a re-INVITE, so the tones of the mix are checked by the media engine's own tests over real
        // UDP; here the phones show the wiring, the packet flow and DTMF crossing the mixer.)
        var a1 = await alice.RtpAsync();
        var b1 = await bob.RtpAsync();
        await Task.Delay(1500);
        var a2 = await alice.RtpAsync();
        var b2 = await bob.RtpAsync();
        Assert.NotEqual(b2.LocalPort, a2.RemotePort);
        Assert.NotEqual(a2.LocalPort, b2.RemotePort);
        Assert.NotEqual(a2.RemotePort, b2.RemotePort);
        Assert.True(a2.Received.Values.Sum() > a1.Received.Values.Sum() + 40, "alice receives the mix");
        Assert.True(b2.Received.Values.Sum() > b1.Received.Values.Sum() + 40, "bob receives the mix");
        // ... and plays it: their jitter buffers take the mixer's packets (they would stay put if dropped as late).
        Assert.NotEqual(a1.JitterSeqPut, a2.JitterSeqPut);
        Assert.NotEqual(b1.JitterSeqPut, b2.JitterSeqPut);
        Assert.Equal(1, server.Switch.Conferences);
        await ctl.CommandAsync("sndcode", "5");
        Assert.Equal("5", (string?)(await alice.WaitEventAsync("CALL_DTMF_START"))["param"]);
        Assert.Equal("5", (string?)(await bob.WaitEventAsync("CALL_DTMF_START"))["param"]);

        // alice leaves: ctl and bob stay connected through the mixer.
        await alice.CommandAsync("hangup");
        await SipRetargetTests.WaitStatusAsync(client, "102", "=connected:100");
        var b3 = await bob.RtpAsync();
        await Task.Delay(1000);
        var b4 = await bob.RtpAsync();
        Assert.True(b4.Received.Values.Sum() > b3.Received.Values.Sum() + 20, "bob still receives the mix after alice left");
        Assert.StartsWith("200 Drop 102", await client.CommandAsync("Drop 102"));
        await bob.WaitEventAsync("CALL_CLOSED");
        await ctl.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(0, server.Switch.Conferences);

        await WaitMediaReleasedAsync(server);

        // At each phone's recorder, three distinct tones: each heard the other two at once, and never itself.
        alice.AssertHeardTogether([1000, 1700], own: 440);
        bob.AssertHeardTogether([1000, 440], own: 1700);
        ctl.AssertHeardTogether([440, 1700], own: 1000);
    }
}

/// <summary>Forward and do-not-disturb set over the IP interface, on real phones.</summary>
public sealed class SipForwardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-fw-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Forward_sends_calls_to_the_target_phone_and_dnd_gives_the_caller_busy()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("f100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("f101", _dir, server.Account("101"), "tone:1000");
        await using var carol = await Baresip.StartAsync("f102", _dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        Assert.StartsWith("200 Forward 101 102", await client.CommandAsync("Forward 101 102"));
        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await carol.WaitEventAsync("CALL_INCOMING");
        await carol.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        Assert.Empty(server.Switch.Model.ConnectionsOf("101"));
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await carol.WaitEventAsync("CALL_CLOSED");
        await alice.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(1700, alice.ReceivedFrequency());
        Assert.Equal(440, carol.ReceivedFrequency());

        Assert.StartsWith("200 Forward 101 *", await client.CommandAsync("Forward 101 *"));
        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        var closed = await alice.WaitEventAsync("CALL_CLOSED");
        Assert.Contains("486", (string?)closed["param"]);
        Assert.StartsWith("200 Forward 101", await client.CommandAsync("Forward 101"));
        Assert.DoesNotContain("dnd", await client.CommandAsync("Status 101"));
    }
}

/// <summary>
/// Three phones and a Monitor client, brought to the state Toggle, Transfer and Conference start from: 101 (alice,
/// 440 Hz) and 100 (the controller, auto-answer, 1000 Hz) in a call — dialled on alice's phone, or with
/// <c>firstCallByCti</c> placed by MakeCall 101 100 — then MakeCall 100 102 held that call and connected 100 with 102
/// (bob, 1700 Hz).
/// </summary>
internal sealed class ConsultationSetup : IAsyncDisposable
{
    private ConsultationSetup(Baresip controller, Baresip alice, Baresip bob, LineClient client) =>
        (Controller, Alice, Bob, Client) = (controller, alice, bob, client);

    public Baresip Controller { get; }

    public Baresip Alice { get; }

    public Baresip Bob { get; }

    public LineClient Client { get; }

    public static async Task<ConsultationSetup> StartAsync(SwitchboardServer server, string dir, string prefix, bool firstCallByCti = false)
    {
        // The controller's phone answers by itself, as a desk phone with auto-answer for CTI calls would.
        var ctl = await Baresip.StartAsync(prefix + "100", dir, server.Account("100", answerMode: "auto"), "tone:1000");
        var alice = await Baresip.StartAsync(prefix + "101", dir, server.Account("101"), "tone:440");
        var bob = await Baresip.StartAsync(prefix + "102", dir, server.Account("102"), "tone:1700");
        await server.WaitRegisteredAsync("100", "101", "102");
        var client = await LineClient.ConnectAsync(server.CommandPort);
        Assert.StartsWith("200 Monitor 100", await client.CommandAsync("Monitor 100"));

        if (firstCallByCti)
        {
            // MakeCall 101 100: alice's phone rings first and she picks up; then the controller's phone answers.
            Assert.StartsWith("200 MakeCall 101 100", await client.CommandAsync("MakeCall 101 100"));
            await alice.WaitEventAsync("CALL_INCOMING");
            await alice.CommandAsync("accept");
        }
        else
        {
            await alice.CommandAsync("dial", $"sip:100@127.0.0.1:{server.SipPort}");
        }
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:101");
        Assert.StartsWith("200 MakeCall 100 102", await client.CommandAsync("MakeCall 100 102"));
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await bob.WaitEventAsync("CALL_ESTABLISHED");
        await SipRetargetTests.WaitStatusAsync(client, "100", "=connected:102");
        return new ConsultationSetup(ctl, alice, bob, client);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Bob.DisposeAsync();
        await Alice.DisposeAsync();
        await Controller.DisposeAsync();
    }
}
