using Switchboard.Media.Codecs;
using Switchboard.Media.Jitter;

namespace Switchboard.Media.Tests;

/// <summary>What a relayed two-party call costs in memory: no jitter buffer, no mixing frames (issue 12's bytes per call).</summary>
public class RelayAllocationTests
{
    [Fact]
    public async Task Two_endpoints_joined_for_relay_allocate_less_than_one_jitter_buffer()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        // Warm the engine's own first-use state (poller, clock) so only the call's objects are counted.
        await using (var warm = engine.CreateEndpoint()) warm.SetRemote(new(System.Net.IPAddress.Loopback, 9), AudioCodec.Pcmu);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var a = engine.CreateEndpoint();
        var b = engine.CreateEndpoint();
        a.SetRemote(new(System.Net.IPAddress.Loopback, 9), AudioCodec.Pcmu);
        b.SetRemote(new(System.Net.IPAddress.Loopback, 11), AudioCodec.Pcmu);
        var conference = engine.CreateConference();
        conference.Add(a);
        conference.Add(b);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ConferenceMode.Relay, conference.Mode);
        Assert.True(allocated < JitterBuffer.Capacity * JitterBuffer.MaxFrameSamples * sizeof(short),
            $"two relayed endpoints and their conference allocated {allocated} bytes");
        await conference.DisposeAsync();
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_call_opened_and_closed_beside_thousands_of_others_does_not_copy_them()
    {
        const int open = 4_000;
        await using var engine = new MediaEngine(new MediaEngineOptions());
        var others = new List<Conference>(open);
        for (int i = 0; i < open; i++) others.Add(engine.CreateConference());
        await (engine.CreateConference()).DisposeAsync();

        long before = GC.GetAllocatedBytesForCurrentThread();
        var conference = engine.CreateConference();
        await conference.DisposeAsync();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(open, engine.OpenConferences);
        // A list of the others copied on the way in or out would be 8 bytes per open conference.
        Assert.True(allocated < open * sizeof(long), $"one conference beside {open} others allocated {allocated} bytes");
        foreach (var c in others) await c.DisposeAsync();
        Assert.Equal(0, engine.OpenConferences);
    }
}
