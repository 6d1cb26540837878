using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Asterisk;
using Switchboard.Hostile.Tests.Support;
using Switchboard.Telephony;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// Mutated AMI packets from a FAKE manager interface (<see cref="FakeAmiServer"/>) into the real Asterisk connector:
/// the packet parser, the AMI client and the call model fed from events. A peer that breaks the framing is dropped
/// and reconnected; after every batch the connector must still turn a valid event into a model change.
/// </summary>
public sealed class AmiCorpusTests
{
    [Fact]
    public async Task Mutated_ami_packets_never_break_the_connector()
    {
        await using var fake = new FakeAmiServer();
        var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var devices = new[] { "100", "101", "102", "103", "104", "105" };
        var model = new CallModel(devices, new CallEventHub());
        var options = new AsteriskOptions
        {
            Port = fake.Port,
            Username = "cti",
            Secret = "fake",
            Devices = [.. devices],
            PingIntervalSeconds = 3600,
            ReconnectMinDelayMs = 20,
        };
        await using var system = new AsteriskPhoneSystem(model, options, factory);
        await system.StartAsync(default);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(50));

        var m = new Mutator(5038);
        int inputs = 0;
        for (int batch = 0; batch < 24; batch++)
        {
            for (int i = 0; i < 50; i++)
            {
                var valid = Encoding.UTF8.GetBytes(Valid.Ami(batch * 50 + i));
                await fake.SendAsync(m.Chance(5) ? valid : m.Mutate(valid, maxLength: 40_000), cts.Token);
                inputs++;
            }
            // Close whatever packet the garbage left open, then a valid event whose effect can be seen in the model.
            bool reachable = batch % 2 == 0;
            var probe = Encoding.UTF8.GetBytes($"\r\n\r\nEvent: ContactStatus\r\nAOR: 105\r\nContactStatus: {(reachable ? "Reachable" : "Removed")}\r\n\r\n");
            var end = DateTime.UtcNow.AddSeconds(10);
            while (model.IsReachable("105") != reachable)
            {
                Assert.True(DateTime.UtcNow < end, $"the connector did not take a valid event after batch {batch}; log: "
                    + string.Join(" | ", logs.Entries.TakeLast(4).Select(e => Bounds.Show(e.Message))));
                await fake.SendAsync(probe, cts.Token);
                for (int w = 0; w < 20 && model.IsReachable("105") != reachable; w++) await Task.Delay(10, cts.Token);
            }
            if (batch % 8 == 7) Bounds.Memory($"AMI batch {batch}");
        }

        Assert.True(inputs >= 1_000, $"{inputs} inputs");
        // Dropping a peer that broke the framing is the documented reaction, logged at Error so the operator sees the link broke.
        Bounds.NoErrors(logs, e => e.Exception is null && e.Message.StartsWith("AMI protocol error, closing the connection", StringComparison.Ordinal));
        Bounds.Memory("the AMI corpus");
    }
}
