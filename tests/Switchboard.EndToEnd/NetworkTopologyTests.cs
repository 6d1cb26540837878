using System.Globalization;
using Switchboard.Switch.Trunks;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Testing.Topology;

namespace Switchboard.EndToEnd;

/// <summary>
/// One topology, one server on its built-in defaults and four phones, shared by the scenarios of
/// <see cref="NetworkTopologyTests"/>: 100 on LAN A (440 Hz), 101 on LAN B (1000 Hz), 102 behind the NAT router
/// (1700 Hz), and a phone of the provider (600 Hz) registered at Kamailio, which delivers +4989555102 over the trunk.
/// </summary>
public sealed class TopologyFixture : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-topo-").FullName;
    private NetworkTopology? _topology;
    private Kamailio? _provider;
    private SwitchboardServer? _server;
    private readonly List<Baresip> _phones = [];

    /// <summary>Why there is no topology here (no root, no CAP_NET_ADMIN), or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>What went wrong while setting up, for every scenario's failure message, or null.</summary>
    public string? SetupError { get; private set; }

    public NetworkTopology Topology => _topology!;

    public SwitchboardServer Server => _server!;

    public Kamailio Provider => _provider!;

    public Baresip P100 { get; private set; } = null!;

    public Baresip P101 { get; private set; } = null!;

    public Baresip P102 { get; private set; } = null!;

    public Baresip Far { get; private set; } = null!;

    public IReadOnlyList<Baresip> Extensions => [P100, P101, P102];

    public async Task InitializeAsync()
    {
        try
        {
            _topology = NetworkTopology.Create();
        }
        catch (TopologyUnavailableException ex)
        {
            Unavailable = ex.Message;
            return;
        }
        try
        {
            _provider = Kamailio.Start(_dir, KamailioRole.Provider(("+4989555102", "trunkuser")), "provider");
            _server = await SwitchboardServer.StartOnDefaultsAsync(_dir, new()
            {
                ["Sip:Trunks:0:Name"] = "provider",
                ["Sip:Trunks:0:Host"] = "127.0.0.1",
                ["Sip:Trunks:0:Port"] = _provider.Port.ToString(CultureInfo.InvariantCulture),
                ["Sip:Trunks:0:Username"] = "trunkuser",
                ["Sip:Trunks:0:Password"] = "pw-trunkuser",
                ["Sip:Trunks:0:Register"] = "true",
                ["Sip:Trunks:0:Dids:+4989555102"] = "102",
            });
            P100 = await StartPhoneAsync("100", _topology.LanA, 440);
            P101 = await StartPhoneAsync("101", _topology.LanB, 1000);
            P102 = await StartPhoneAsync("102", _topology.Home, 1700);
            Far = await Baresip.StartAsync("far", _dir, $"<sip:0891234567@127.0.0.1:{_provider.Port}>;auth_pass=pw-0891234567;answermode=manual;regint=600", "tone:600");
            _phones.Add(Far);
        }
        catch (Exception ex)
        {
            SetupError = ex.ToString();
        }
    }

    private async Task<Baresip> StartPhoneAsync(string extension, Site site, int tone)
    {
        var phone = await Baresip.StartAsync("p" + extension, _dir, Server.AccountAt(extension, site.ServerAddress), "tone:" + tone.ToString(CultureInfo.InvariantCulture), site.Host);
        _phones.Add(phone);
        return phone;
    }

    public async Task DisposeAsync()
    {
        // Phones first: with the switch gone they would wait for their un-REGISTER.
        foreach (var phone in _phones) await phone.DisposeAsync();
        if (_server is not null) await _server.DisposeAsync();
        _provider?.Dispose();
        _topology?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>
/// The scenarios that matter, with phones on their own hosts: two LANs on different subnets routed by the server's
/// host and a phone behind a NAT router, the server on its built-in defaults (0.0.0.0, no AdvertisedAddress, no media
/// setting). Audio is checked at both ends. Failures say what a user would see. Scenarios share the fixture and run
/// one after another; each starts by clearing what an earlier (failed) one may have left.
/// </summary>
public sealed class NetworkTopologyTests(TopologyFixture f) : IClassFixture<TopologyFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static readonly Dictionary<string, int> Tones = new() { ["100"] = 440, ["101"] = 1000, ["102"] = 1700, ["far"] = 600 };

    private string Dial(string extension, Site from) => $"sip:{extension}@{from.ServerAddress}:{f.Server.SipPort}";

    [SkippableFact]
    public async Task A_call_dialled_from_LAN_A_to_LAN_B_is_hung_up_by_the_caller_then_by_the_callee_and_the_switch_learns_it()
    {
        await using var client = await StartAsync();
        await DialledCallAsync(client, f.P100, "100", f.Topology.LanA, f.P101, "101", callerHangsUp: true);
        await Task.Delay(300);
        f.P100.DiscardEvents();
        f.P101.DiscardEvents();
        await DialledCallAsync(client, f.P100, "100", f.Topology.LanA, f.P101, "101", callerHangsUp: false);
    }

    [SkippableFact]
    public async Task Hold_and_resume_from_the_phone_across_subnets_keep_the_call_and_the_audio()
    {
        await using var client = await StartAsync();
        await f.P101.CommandAsync("answermode", "auto");
        await f.P100.CommandAsync("dial", Dial("101", f.Topology.LanA));
        await ExpectAsync(f.P100, "CALL_ESTABLISHED", "101 (auto-answer) never answered 100");
        await AssertReceivingAsync(f.P101, "100", "before hold");
        Assert.True((bool?)(await f.P100.CommandAsync("hold"))["ok"], "100's hold key did nothing");
        await AssertStatusAsync(client, "100", "=held:101", "after 100 pressed hold");
        Assert.True((bool?)(await f.P100.CommandAsync("resume"))["ok"], "100's resume did nothing");
        await AssertStatusAsync(client, "100", "=connected:101", "after 100 resumed");
        await AssertReceivingAsync(f.P101, "100", "after resume");
        await AssertReceivingAsync(f.P100, "101", "after resume");
        await f.P100.CommandAsync("hangup");
        await ExpectAsync(f.P101, "CALL_CLOSED", "101's phone still shows the call after 100 hung up");
        await AssertIdleAsync(client, "100", "after 100 hung up");
        await AssertIdleAsync(client, "101", "after 100 hung up");
    }

    [SkippableFact]
    public async Task MakeCall_between_the_two_LANs_connects_them_and_both_hear_each_other()
    {
        await using var client = await StartAsync();
        await MakeCallAsync(client, f.P100, "100", f.P101, "101");
    }

    [SkippableFact]
    public async Task MakeCall_from_LAN_A_to_the_phone_behind_NAT_connects_them_and_both_hear_each_other()
    {
        await using var client = await StartAsync();
        await MakeCallAsync(client, f.P100, "100", f.P102, "102");
    }

    [SkippableFact]
    public async Task A_call_dialled_on_the_phone_behind_NAT_to_LAN_A_carries_audio_both_ways()
    {
        await using var client = await StartAsync();
        await DialledCallAsync(client, f.P102, "102", f.Topology.Home, f.P100, "100", callerHangsUp: false);
    }

    [SkippableFact]
    public async Task Transfer_after_a_consultation_leaves_LAN_B_and_the_NAT_phone_talking()
    {
        await using var client = await StartAsync();
        // 101 calls 100 (auto-answer, the controller); MakeCall 100 102 holds that call and consults 102 behind NAT.
        await f.P100.CommandAsync("answermode", "auto");
        await f.P101.CommandAsync("dial", Dial("100", f.Topology.LanB));
        await ExpectAsync(f.P101, "CALL_ESTABLISHED", "100 (auto-answer) never answered 101");
        await AssertStatusAsync(client, "100", "=connected:101", "after 100 answered 101");
        await ExpectReplyAsync(client, "MakeCall 100 102", "200 MakeCall 100 102");
        await ExpectAsync(f.P102, "CALL_INCOMING", "102 (behind NAT) never rang for the consultation");
        await f.P102.CommandAsync("accept");
        await AssertStatusAsync(client, "100", "=connected:102", "after 102 answered the consultation");
        await ExpectReplyAsync(client, "Transfer 100", "200 Transfer 100");
        await AssertStatusAsync(client, "101", "=connected:102", "after Transfer 100");
        await AssertIdleAsync(client, "100", "after Transfer 100");
        await AssertReceivingAsync(f.P101, "102", "after the transfer");
        await AssertReceivingAsync(f.P102, "101", "after the transfer");
        await Task.Delay(1500);
        await f.P101.CommandAsync("hangup");
        await ExpectAsync(f.P102, "CALL_CLOSED", "102's phone still shows the call after 101 hung up");
        // 102's call came from MakeCall and never got a re-INVITE, so its recording is whole: it heard 101.
        AssertHeardTogether(f.P102, ["101"], "the transferred call");
        await AssertIdleAsync(client, "101", "after 101 hung up");
        await AssertIdleAsync(client, "102", "after 101 hung up");
    }

    [SkippableFact]
    public async Task Redirect_of_a_ringing_call_sends_it_to_the_phone_behind_NAT_which_talks_to_the_caller()
    {
        await using var client = await StartAsync();
        await RingAsync(client);
        await ExpectReplyAsync(client, "Redirect 101 102", "200 Redirect 101 102");
        await ExpectAsync(f.P101, "CALL_CLOSED", "101 kept ringing after Redirect 101 102");
        await ExpectAsync(f.P102, "CALL_INCOMING", "102 (behind NAT) never rang after Redirect 101 102");
        await f.P102.CommandAsync("accept");
        await ExpectAsync(f.P100, "CALL_ESTABLISHED", "100 never heard 102 answer the redirected call");
        await AssertReceivingAsync(f.P100, "102", "after the redirect");
        await TalkAsync();
        await f.P100.CommandAsync("hangup");
        await ExpectAsync(f.P102, "CALL_CLOSED", "102's phone still shows the call after 100 hung up");
        AssertHeard(f.P102, from: "100", "the redirected call");
        await AssertIdleAsync(client, "100", "after 100 hung up");
        await AssertIdleAsync(client, "102", "after 100 hung up");
    }

    [SkippableFact]
    public async Task Pickup_by_the_phone_behind_NAT_takes_the_ringing_call_and_both_hear_each_other()
    {
        await using var client = await StartAsync();
        // baresip ignores the auto-answer hints of the pickup INVITE, so the picking phone auto-answers.
        await f.P102.CommandAsync("answermode", "auto");
        await RingAsync(client);
        await ExpectReplyAsync(client, "Pickup 102 101", "200 Pickup 102 101");
        await ExpectAsync(f.P101, "CALL_CLOSED", "101 kept ringing after Pickup 102 101");
        await ExpectAsync(f.P100, "CALL_ESTABLISHED", "100 never heard the picked-up call answer");
        await AssertStatusAsync(client, "102", "=connected:100", "after Pickup 102 101");
        await TalkAsync();
        await f.P100.CommandAsync("hangup");
        await ExpectAsync(f.P102, "CALL_CLOSED", "102's phone still shows the call after 100 hung up");
        AssertHeard(f.P100, from: "102", "the picked-up call");
        AssertHeard(f.P102, from: "100", "the picked-up call");
        await AssertIdleAsync(client, "102", "after 100 hung up");
    }

    [SkippableFact]
    public async Task Conference_of_both_LANs_and_the_NAT_phone_lets_each_hear_the_other_two()
    {
        await using var client = await StartAsync();
        // Both calls come from MakeCall, so no phone gets a re-INVITE and every recording stays whole.
        await f.P100.CommandAsync("answermode", "auto");
        await ExpectReplyAsync(client, "MakeCall 101 100", "200 MakeCall 101 100");
        await ExpectAsync(f.P101, "CALL_INCOMING", "101 never rang for MakeCall 101 100");
        await f.P101.CommandAsync("accept");
        await AssertStatusAsync(client, "100", "=connected:101", "after MakeCall 101 100");
        await ExpectReplyAsync(client, "MakeCall 100 102", "200 MakeCall 100 102");
        await ExpectAsync(f.P102, "CALL_INCOMING", "102 (behind NAT) never rang for MakeCall 100 102");
        await f.P102.CommandAsync("accept");
        await AssertStatusAsync(client, "100", "=connected:102", "after 102 answered");
        await ExpectReplyAsync(client, "Conference 100", "200 Conference 100");
        await ExpectAsync(f.P100, "CALL_CLOSED", "100's held call was not released into the conference");
        await TalkAsync();
        await f.P101.CommandAsync("hangup");
        await AssertStatusAsync(client, "102", "=connected:100", "after 101 left the conference");
        await ExpectReplyAsync(client, "Drop 102", "200 Drop 102");
        await ExpectAsync(f.P102, "CALL_CLOSED", "102's phone still shows the call after Drop 102");
        await ExpectAsync(f.P100, "CALL_CLOSED", "100's phone still shows the call after the conference ended");
        AssertHeardTogether(f.P100, ["101", "102"], "the conference");
        AssertHeardTogether(f.P101, ["100", "102"], "the conference");
        AssertHeardTogether(f.P102, ["100", "101"], "the conference");
        foreach (var d in new[] { "100", "101", "102" }) await AssertIdleAsync(client, d, "after the conference ended");
    }

    [SkippableFact]
    public async Task An_inbound_trunk_call_reaches_the_phone_behind_NAT_and_both_hear_each_other()
    {
        await using var client = await StartAsync();
        var registration = Assert.Single(f.Server.Switch.TrunkRegistrations);
        await Poll.UntilAsync(() => registration.State == TrunkRegistrationState.Registered, "the trunk to register at the provider (Kamailio)");
        await f.Far.CommandAsync("dial", $"sip:+4989555102@127.0.0.1:{f.Provider.Port}");
        await ExpectAsync(f.P102, "CALL_INCOMING", "102 (behind NAT) never rang for a call to its number +4989555102 from the provider");
        await f.P102.CommandAsync("accept");
        await ExpectAsync(f.Far, "CALL_ESTABLISHED", "the caller at the provider never heard 102 answer");
        await TalkAsync();
        await f.Far.CommandAsync("hangup");
        await ExpectAsync(f.P102, "CALL_CLOSED", "102's phone still shows the call after the outside caller hung up");
        AssertHeard(f.P102, from: "far", "the inbound trunk call");
        AssertHeard(f.Far, from: "102", "the inbound trunk call");
        await AssertIdleAsync(client, "102", "after the outside caller hung up");
    }

    /// <summary>100 dials 101 on the other LAN, and 101 rings: where Redirect and Pickup start.</summary>
    private async Task RingAsync(LineClient client)
    {
        await f.P100.CommandAsync("dial", Dial("101", f.Topology.LanA));
        await ExpectAsync(f.P101, "CALL_INCOMING", "101 never rang for the call dialled on 100");
        await AssertStatusAsync(client, "101", "=alerting:100", "while 101 rings");
    }

    /// <summary>A call dialled on the caller's phone, answered, talked on, hung up by one side; both must have heard the other.</summary>
    private async Task DialledCallAsync(LineClient client, Baresip caller, string from, Site site, Baresip callee, string to, bool callerHangsUp)
    {
        await caller.CommandAsync("dial", Dial(to, site));
        await ExpectAsync(callee, "CALL_INCOMING", $"{to} never rang for the call dialled on {from} ({site.Name})");
        await callee.CommandAsync("accept");
        await ExpectAsync(caller, "CALL_ESTABLISHED", $"{from} never heard {to} answer");
        await TalkAsync();
        var (hangsUp, who, other, otherName) = callerHangsUp ? (caller, from, callee, to) : (callee, to, caller, from);
        await hangsUp.CommandAsync("hangup");
        await ExpectAsync(other, "CALL_CLOSED", $"{otherName}'s phone still shows the call after {who} hung up");
        AssertHeard(caller, from: to, $"a call dialled on {from}");
        AssertHeard(callee, from: from, $"a call dialled on {from}");
        await AssertIdleAsync(client, from, $"after {who} hung up");
        await AssertIdleAsync(client, to, $"after {who} hung up");
    }

    /// <summary>MakeCall caller→callee: the caller's phone (auto-answer) rings first, the callee answers, Drop ends it.</summary>
    private async Task MakeCallAsync(LineClient client, Baresip caller, string from, Baresip callee, string to)
    {
        await caller.CommandAsync("answermode", "auto");
        await ExpectReplyAsync(client, $"MakeCall {from} {to}", $"200 MakeCall {from} {to}");
        await ExpectAsync(callee, "CALL_INCOMING", $"{to} never rang for MakeCall {from} {to}");
        await callee.CommandAsync("accept");
        await ExpectAsync(callee, "CALL_ESTABLISHED", $"{to} answered but the call never came up");
        await AssertStatusAsync(client, from, $"=connected:{to}", $"after {to} answered MakeCall {from} {to}");
        await TalkAsync();
        await ExpectReplyAsync(client, $"Drop {from}", $"200 Drop {from}");
        await ExpectAsync(callee, "CALL_CLOSED", $"{to}'s phone still shows the call after Drop {from}");
        await ExpectAsync(caller, "CALL_CLOSED", $"{from}'s phone still shows the call after Drop {from}");
        AssertHeard(caller, from: to, $"MakeCall {from} {to}");
        AssertHeard(callee, from: from, $"MakeCall {from} {to}");
        await AssertIdleAsync(client, from, $"after Drop {from}");
        await AssertIdleAsync(client, to, $"after Drop {from}");
    }

    /// <summary>
    /// Skips or fails when there is no topology, fails with the setup error, and otherwise clears what an earlier
    /// scenario left: calls on the phones and in the switch, pending phone events, old recordings, auto-answer.
    /// </summary>
    private async Task<LineClient> StartAsync()
    {
        if (f.Unavailable is { } reason) NetworkTopology.SkipOrFail(reason);
        if (f.SetupError is { } error) Assert.Fail("setting up the topology, server and phones failed: " + error);
        await AssertRegisteredAsync();
        var client = await LineClient.ConnectAsync(f.Server.CommandPort);
        foreach (var (phone, device) in f.Extensions.Zip(["100", "101", "102"]))
        {
            for (int i = 0; i < 3; i++) await phone.CommandAsync("hangup");
            for (int i = 0; i < 4 && LineClient.ShowsCall(await client.CommandAsync("Status " + device)); i++)
            {
                await client.CommandAsync("Drop " + device);
                await Task.Delay(200);
            }
            await phone.CommandAsync("answermode", "manual");
        }
        for (int i = 0; i < 3; i++) await f.Far.CommandAsync("hangup");
        await Task.Delay(300);
        foreach (var phone in f.Extensions.Append(f.Far))
        {
            phone.DiscardEvents();
            phone.ForgetRecordings();
        }
        return client;
    }

    private async Task AssertRegisteredAsync()
    {
        var sites = new[] { ("100", f.Topology.LanA), ("101", f.Topology.LanB), ("102", f.Topology.Home) };
        for (int i = 0; i < 100 && !sites.All(s => f.Server.Switch.Model.IsReachable(s.Item1)); i++) await Task.Delay(100);
        foreach (var (device, site) in sites)
        {
            var phone = f.Extensions[int.Parse(device, CultureInfo.InvariantCulture) - 100];
            Assert.True(f.Server.Switch.Model.IsReachable(device),
                $"the phone {device} on {site.Name} ({site.Address}) never registered at the switch ({site.ServerAddress}:{f.Server.SipPort}); end of its log:\n{phone.LogTail(40)}");
        }
    }

    /// <summary>Long enough for a recording whose middle second shows what was heard.</summary>
    private static Task TalkAsync() => Task.Delay(2500);

    private static async Task ExpectAsync(Baresip phone, string type, string failure)
    {
        try
        {
            await phone.WaitEventAsync(type, Wait);
        }
        catch (TimeoutException ex)
        {
            Assert.Fail(failure + "\n" + ex.Message);
        }
    }

    private static async Task ExpectReplyAsync(LineClient client, string command, string expected)
    {
        var reply = await client.CommandAsync(command);
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"{command} answered '{reply}'");
    }

    private static async Task AssertStatusAsync(LineClient client, string device, string contains, string when)
    {
        var last = await Poll.ForAsync(() => client.CommandAsync("Status " + device), s => s.Contains(contains, StringComparison.Ordinal));
        Assert.True(last.Contains(contains, StringComparison.Ordinal), $"Status {device} {when} answered '{last}', not '{contains}'");
    }

    private static async Task AssertIdleAsync(LineClient client, string device, string when)
    {
        var last = await Poll.ForAsync(() => client.CommandAsync("Status " + device), s => !LineClient.ShowsCall(s));
        Assert.False(LineClient.ShowsCall(last), $"Status {device} still shows a call {when}: '{last}'");
    }


    /// <summary>The listener's recording of this call: the speaker's tone, or what the listener got instead.</summary>
    private static void AssertHeard(Baresip listener, string from, string during)
    {
        var who = listener.Name.TrimStart('p');
        var heard = listener.LastReceived();
        if (heard is null) Assert.Fail($"{who} recorded nothing in {during} (recordings: {listener.RecordingList()})");
        Assert.True(heard.Rms >= 100 && heard.Frequency == Tones[from],
            $"{who} heard {heard} in {during}, not {from}'s {Tones[from]} Hz");
    }

    private static void AssertHeardTogether(Baresip listener, string[] from, string during)
    {
        var who = listener.Name.TrimStart('p');
        var heard = listener.LastReceived();
        if (heard is null) Assert.Fail($"{who} recorded nothing in {during} (recordings: {listener.RecordingList()})");
        var expected = from.Select(p => (double)Tones[p]).ToArray();
        Assert.True(Audio.HeardTogether(heard.Samples, heard.Rate, expected, Tones[who], out var seconds),
            $"{who} never heard {string.Join(" and ", from.Select(p => $"{p} ({Tones[p]} Hz)"))} in {during}: overall {heard}; per second:\n{seconds}");
    }

    /// <summary>
    /// Packets from the far side arrive and are played (baresip stops recording after a re-INVITE, so calls that were
    /// re-pointed are judged by its RTP counters and jitter buffer).
    /// </summary>
    private static async Task AssertReceivingAsync(Baresip listener, string from, string when)
    {
        var who = listener.Name.TrimStart('p');
        var before = await listener.RtpAsync();
        await Task.Delay(1000);
        var after = await listener.RtpAsync();
        long got = after.Received.Values.Sum() - before.Received.Values.Sum();
        Assert.True(got > 20 && after.JitterSeqPut != before.JitterSeqPut,
            $"{who} hears nothing from {from} {when}: {got} RTP packets in 1 s (50 expected), jitter buffer {(after.JitterSeqPut != before.JitterSeqPut ? "playing" : "stalled")}; RTP {after.LocalPort}→{after.RemotePort} {after.Direction}");
    }
}
