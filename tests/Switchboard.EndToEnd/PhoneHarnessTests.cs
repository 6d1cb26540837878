using Switchboard.Testing;
using Switchboard.Testing.Phones;

namespace Switchboard.EndToEnd;

/// <summary>Proves the phone harness itself: two real baresip phones call each other directly and hear each other's tone.</summary>
public sealed class PhoneHarnessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Two_baresip_phones_exchange_tones_on_a_direct_call()
    {
        await using var alice = await Baresip.StartAsync("alice", _dir, "<sip:alice@127.0.0.1>;regint=0;answermode=manual", "tone:440");
        await using var bob = await Baresip.StartAsync("bob", _dir, "<sip:bob@127.0.0.1>;regint=0;answermode=manual", "tone:1000");

        await alice.CommandAsync("dial", $"sip:bob@127.0.0.1:{bob.SipPort}");
        await bob.WaitEventAsync("CALL_INCOMING");
        await bob.CommandAsync("accept");
        await alice.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        await alice.CommandAsync("hangup");
        await bob.WaitEventAsync("CALL_CLOSED");

        Assert.Equal(1000, alice.ReceivedFrequency());
        Assert.Equal(440, bob.ReceivedFrequency());
    }
}
