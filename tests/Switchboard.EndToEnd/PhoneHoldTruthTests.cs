using Switchboard.Testing.Phones;
using Switchboard.Telephony;

namespace Switchboard.EndToEnd;

/// <summary>
/// Hold state follows what the phones negotiated (issue 12): a phone that put its call on hold with its own key keeps
/// it on hold when the switch offers sendrecv again (baresip answers sendonly), so Toggle says so and Status stays held.
/// </summary>
public sealed class PhoneHoldTruthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-holdt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Toggle_on_a_call_the_phone_holds_itself_says_the_phone_keeps_it_on_hold_and_status_stays_held()
    {
        await using var server = await SwitchboardServer.StartAsync(_dir);
        await using var alice = await Baresip.StartAsync("ht100", _dir, server.Account("100"), "tone:440");
        await using var bob = await Baresip.StartAsync("ht101", _dir, server.Account("101", answerMode: "auto"), "tone:1000");
        await server.WaitRegisteredAsync("100", "101");
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        await alice.CommandAsync("dial", $"sip:101@127.0.0.1:{server.SipPort}");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        Assert.True((bool?)(await alice.CommandAsync("hold"))["ok"]);
        await bob.WaitEventAsync("CALL_REMOTE_SDP");
        for (int i = 0; i < 100 && server.Switch.Model.ConnectionsOf("100").SingleOrDefault()?.State != ConnectionState.Held; i++) await Task.Delay(50);
        var call = server.Switch.Model.ConnectionsOf("100").Single();
        Assert.Equal(ConnectionState.Held, call.State);

        var toggle = await client.CommandAsync("Toggle 100");
        Assert.Equal($"409 Toggle 100: the phone keeps call {call.Call.Id} on hold", toggle);
        Assert.Contains($"{call.Call.Id}=held", await client.CommandAsync("Status 100"));

        // Resumed on the phone, the call is connected again.
        Assert.True((bool?)(await alice.CommandAsync("resume"))["ok"]);
        for (int i = 0; i < 100 && server.Switch.Model.ConnectionsOf("100").SingleOrDefault()?.State != ConnectionState.Connected; i++) await Task.Delay(50);
        Assert.Contains($"{call.Call.Id}=connected", await client.CommandAsync("Status 100"));
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");
    }
}
