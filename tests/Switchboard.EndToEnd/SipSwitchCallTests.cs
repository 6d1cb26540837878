using Switchboard.EndToEnd.Phones;
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
        var resume = await alice.CommandAsync("resume");
        Assert.True((bool?)resume["ok"]);
        await bob.WaitEventAsync("CALL_REMOTE_SDP");
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
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
