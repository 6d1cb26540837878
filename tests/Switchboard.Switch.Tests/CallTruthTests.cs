using System.Globalization;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>
/// What the call model says must be what the phones did (issue 12): a MakeCall caller whose phone rings is alerting
/// and can be answered, a two-party MakeCall is dropped (not "left a conference"), and a destination that hangs up
/// right after answering releases the caller's phone too.
/// </summary>
public sealed class CallTruthTests
{
    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static async Task RegisterAsync(SwitchFixture f, string user, int contactPort)
    {
        using var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", user, "-au", user, "-ap", "pw" + user,
            "-key", "contact_port", P(contactPort), "-key", "expect", "200");
        Assert.Equal(0, (await reg.ExitAsync()).Code);
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, int tries = 200)
    {
        for (int i = 0; i < tries && !condition(); i++) await Task.Delay(25);
        return condition();
    }

    [Fact]
    public async Task MakeCall_callers_ringing_phone_is_alerting_with_a_delivered_event_and_answer_answers_it()
    {
        await using var f = new SwitchFixture();
        int callerPort = Ports.FreeUdp(), calleePort = Ports.FreeUdp();
        // 101 rings announcing Allow-Events: talk and goes off-hook on NOTIFY talk; 100 answers at once.
        using var caller = Sipp.Start("uas_talk.xml", callerPort, null);
        using var callee = Sipp.Start("builtin:uas", calleePort, null);
        await RegisterAsync(f, "101", callerPort);
        await RegisterAsync(f, "100", calleePort);
        using var events = f.Model.Events.Subscribe("101");

        var made = await f.Switch.MakeCallAsync("101", "100");
        Assert.True(made.Code == ReplyCode.Ok, made.Message);
        if (!await WaitAsync(() => f.Model.FirstInState("101", ConnectionState.Alerting) is not null))
            Assert.Fail($"101's phone rings but its connection is {f.Model.ConnectionsOf("101").FirstOrDefault()?.State}; phone: "
                + (await caller.ExitAsync(TimeSpan.FromSeconds(1))).Output);
        var seen = new List<CallEvent>();
        while (events.Reader.TryRead(out var e)) seen.Add(e);
        Assert.Contains(seen, e => e.Type == CallEventType.Delivered && e.Subject == "101" && e.State == ConnectionState.Alerting);

        var answer = await f.Switch.AnswerAsync("101");
        Assert.True(answer.Code == ReplyCode.Ok, answer.Message);
        Assert.True(await WaitAsync(() => f.Model.FirstInState("101", ConnectionState.Connected) is not null), "the call never connected");

        // A two-party MakeCall has its media in a two-member mixer; Drop still ends the call, it is no conference.
        var drop = await f.Switch.DropAsync("101");
        Assert.Equal(ReplyCode.Ok, drop.Code);
        Assert.DoesNotContain("conference", drop.Message, StringComparison.Ordinal);
        Assert.Contains("released call", drop.Message, StringComparison.Ordinal);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "caller phone: " + output);
        var (calleeCode, calleeOutput) = await callee.ExitAsync();
        Assert.True(calleeCode == 0, "callee phone: " + calleeOutput);
    }

    [Fact]
    public async Task MakeCall_whose_destination_hangs_up_right_after_answering_always_releases_the_callers_phone()
    {
        // Three caller/destination pairs at once, so the destination's BYE can overtake the switch joining its media.
        const int calls = 50;
        // A journal on a busy disk: recording the answer takes 25 ms, while the destination hangs up 0-20 ms after its
        // ACK, so its BYE arrives while the switch is still connecting the call.
        await using var f = new SwitchFixture(configure: o =>
        {
            foreach (var d in new[] { "103", "104", "105" }) o.Passwords[d] = "pw" + d;
            // A keepalive OPTIONS would reach the sipp phones as a call they did not expect.
            o.KeepAliveInterval = TimeSpan.Zero;
        }, journal: j => new SlowJournal(j, TimeSpan.FromMilliseconds(25)));
        var pairs = new[] { ("100", "101"), ("102", "103"), ("104", "105") };
        var phones = new List<SippRun>();
        try
        {
            foreach (var (callerDevice, destination) in pairs)
            {
                int callerPort = Ports.FreeUdp(), calleePort = Ports.FreeUdp();
                // -nr: on a loaded machine sipp would retransmit its 200 before the switch's ACK is in; the switch
                // then ACKs again (RFC 3261 §13.2.2.4), and the scenario has no step for a second ACK.
                phones.Add(Sipp.Start("uas_autoanswer.xml", callerPort, null, "-m", P(calls), "-nr"));
                phones.Add(Sipp.Start("uas_answer_then_bye.xml", calleePort, null, "-m", P(calls), "-nr"));
                await RegisterAsync(f, callerDevice, callerPort);
                await RegisterAsync(f, destination, calleePort);
            }
            var results = await Task.WhenAll(pairs.Select(p => Task.Run(() => RunPairAsync(f, p.Item1, p.Item2, calls))));
            var stuck = results.Sum(r => r.Stuck);
            var refused = results.SelectMany(r => r.Refused).ToList();
            Assert.True(stuck == 0 && refused.Count == 0,
                $"{stuck} stuck calls (left: {string.Join(", ", f.Model.Calls.Select(c => c.Id + ":" + string.Join("+", c.Connections.Select(x => x.Party + "=" + x.State))))}); refused: {string.Join(" | ", refused)}");
            foreach (var phone in phones)
            {
                var (code, output) = await phone.ExitAsync();
                Assert.True(code == 0, output);
            }
            Assert.True(await WaitAsync(() => f.Switch.MediaInUse == (0, 0)), $"media still open: {f.Switch.MediaInUse}");
        }
        finally
        {
            foreach (var phone in phones) phone.Dispose();
        }
    }

    [Fact]
    public async Task MakeCall_names_its_call_and_hold_retrieve_and_dtmf_work_on_it_with_the_digits_on_the_wire()
    {
        await using var f = new SwitchFixture();
        int callerPort = Ports.FreeUdp(), calleePort = Ports.FreeUdp();
        // 100's phone says its audio arrives at this socket: what the switch sends it is read here.
        using var rtp = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int rtpPort = ((System.Net.IPEndPoint)rtp.Client.LocalEndPoint!).Port;
        using var caller = Sipp.Start("uas_autoanswer.xml", callerPort, null);
        using var callee = Sipp.Start("uas_rtp_port.xml", calleePort, null, "-key", "rtp_port", P(rtpPort));
        await RegisterAsync(f, "101", callerPort);
        await RegisterAsync(f, "100", calleePort);

        var made = await f.Switch.MakeCallAsync("101", "100");
        Assert.True(made.Code == ReplyCode.Ok, made.Message);
        var id = Assert.Single(f.Model.ConnectionsOf("101")).Call.Id;
        Assert.Equal($"MakeCall 101 100: call {id}, calling 101, then 100", made.Message);
        Assert.True(await WaitAsync(() => f.Model.FirstInState("100", ConnectionState.Connected) is not null), "the call never connected");

        var dtmf = await f.Switch.DtmfAsync("101", "12#");
        Assert.True(dtmf.Code == ReplyCode.Ok, dtmf.Message);
        Assert.Equal([1, 2, 11], await ReadDigitsAsync(rtp, 3));

        var hold = await f.Switch.HoldAsync("101");
        Assert.Equal($"Hold 101: call {id} held", hold.Message);
        Assert.NotNull(f.Model.FirstInState("101", ConnectionState.Held));
        Assert.Equal(ReplyCode.WrongState, (await f.Switch.HoldAsync("101")).Code);
        var retrieve = await f.Switch.RetrieveAsync("101");
        Assert.Equal($"Retrieve 101: retrieved call {id}", retrieve.Message);
        Assert.NotNull(f.Model.FirstInState("101", ConnectionState.Connected));

        Assert.Equal(ReplyCode.Ok, (await f.Switch.DropAsync("101")).Code);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "caller phone: " + output);
        Assert.Equal(0, (await callee.ExitAsync()).Code);
    }

    /// <summary>The RFC 4733 digits (event codes) that arrive on a socket, each once at its end packet.</summary>
    private static async Task<List<int>> ReadDigitsAsync(System.Net.Sockets.UdpClient rtp, int count)
    {
        var digits = new List<int>();
        uint lastEndTimestamp = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            while (digits.Count < count)
            {
                var r = await rtp.ReceiveAsync(cts.Token);
                var p = r.Buffer;
                if (p.Length < 16 || (p[1] & 0x7f) != 101) continue;
                int header = 12 + 4 * (p[0] & 0x0f);
                if (p.Length < header + 4 || (p[header + 1] & 0x80) == 0) continue;
                // The end packet goes out three times (RFC 4733 §2.5.1.4), all with the event's timestamp.
                uint timestamp = (uint)(p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]);
                if (timestamp == lastEndTimestamp) continue;
                lastEndTimestamp = timestamp;
                digits.Add(p[header]);
            }
        }
        catch (OperationCanceledException)
        {
        }
        return digits;
    }

    private static async Task<(int Stuck, List<string> Refused)> RunPairAsync(SwitchFixture f, string caller, string destination, int calls)
    {
        var refused = new List<string>();
        for (int i = 0; i < calls; i++)
        {
            var made = await f.Switch.MakeCallAsync(caller, destination);
            if (made.Code != ReplyCode.Ok)
            {
                refused.Add(made.Message);
                await Task.Delay(200);
                continue;
            }
            // The destination's BYE ends the call; the caller's phone gets a BYE and the model forgets the call.
            if (!await WaitAsync(() => f.Model.ConnectionsOf(caller).Count == 0, tries: 120)) return (1, refused);
        }
        return (0, refused);
    }
}

/// <summary>A fake journal standing for a busy disk: it records through the real store, but each answer takes a while.</summary>
internal sealed class SlowJournal(ICallJournal inner, TimeSpan answerDelay) : ICallJournal
{
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at) => inner.CallStarted(callId, calling, called, at);

    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at)
    {
        Thread.Sleep(answerDelay);
        inner.CallAnswered(callId, answeredBy, at);
    }

    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at) => inner.CallEnded(callId, outcome, at);

    public IReadOnlyList<CallJournalEntry> Recent(int count) => inner.Recent(count);

    public long MaxCallId() => inner.MaxCallId();
}
