using Switchboard.Testing.Phones;
using Switchboard.Testing.Topology;

namespace Switchboard.EndToEnd;

/// <summary>
/// Proves the topology itself, without the switch: the host routes between the two LANs, the NAT router masquerades
/// the home phone, and nothing of the topology outlives it. (Its own topology, so it also runs beside
/// <see cref="NetworkTopologyTests"/> and shows two instances do not collide.)
/// </summary>
public sealed class TopologyHarnessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-topoh-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static NetworkTopology CreateOrSkip()
    {
        try
        {
            return NetworkTopology.Create();
        }
        catch (TopologyUnavailableException ex)
        {
            NetworkTopology.SkipOrFail(ex.Message);
            throw;
        }
    }

    [SkippableFact]
    public async Task Phones_on_the_two_LANs_call_each_other_directly_and_the_NAT_hides_the_home_phone()
    {
        string id;
        using (var topology = CreateOrSkip())
        {
            id = topology.Id;
            await using var a = await Baresip.StartAsync("ha", _dir, $"<sip:a@{topology.LanA.Address}>;regint=0;answermode=manual", "tone:440", topology.LanA.Host);
            await using var b = await Baresip.StartAsync("hb", _dir, $"<sip:b@{topology.LanB.Address}>;regint=0;answermode=manual", "tone:1000", topology.LanB.Host);
            await using var h = await Baresip.StartAsync("hh", _dir, $"<sip:h@{topology.Home.Address}>;regint=0;answermode=manual", "tone:1700", topology.Home.Host);

            // LAN A to LAN B, routed by the host: both hear each other.
            await a.CommandAsync("dial", $"sip:b@{topology.LanB.Address}:{b.SipPort}");
            await b.WaitEventAsync("CALL_INCOMING");
            await b.CommandAsync("accept");
            await a.WaitEventAsync("CALL_ESTABLISHED");
            await Task.Delay(2500);
            await a.CommandAsync("hangup");
            await b.WaitEventAsync("CALL_CLOSED");
            Assert.Equal(1000, a.ReceivedFrequency());
            Assert.Equal(440, b.ReceivedFrequency());

            // Home to LAN A: the INVITE arrives from the router's outside address, not from 192.168.x.
            await h.CommandAsync("dial", $"sip:a@{topology.LanA.Address}:{a.SipPort}");
            await a.WaitEventAsync("CALL_INCOMING");
            // baresip's SIP trace heads each packet with "UDP source -> destination".
            var sources = a.LogTail(400).Split('\n').Where(l => l.StartsWith("UDP ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToList();
            Assert.Contains(sources, s => s.StartsWith(topology.Home.PublicAddress + ":", StringComparison.Ordinal));
            Assert.DoesNotContain(sources, s => s.StartsWith(topology.Home.Address + ":", StringComparison.Ordinal));
            await h.CommandAsync("hangup");
        }

        Assert.DoesNotContain(id, RunIp("netns", "list"), StringComparison.Ordinal);
        Assert.DoesNotContain(id, RunIp("-o", "link", "show"), StringComparison.Ordinal);
    }

    private static string RunIp(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
