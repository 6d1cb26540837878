using System.Globalization;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>Monitor on TCP (DESIGN.md §4): EVENT lines in order with growing sequence numbers, and resumption.</summary>
public sealed class MonitorTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private LineClient _control = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _control = await _server.ConnectAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _control.DisposeAsync();
        await _server.DisposeAsync();
    }

    private async Task Do(params string[] lines)
    {
        foreach (var line in lines) Assert.StartsWith("200 ", await _control.CommandAsync(line));
    }

    private static async Task<LineClient> MonitorAsync(TestServer server, string arguments)
    {
        var client = await server.ConnectAsync();
        var reply = await client.CommandAsync("Monitor " + arguments);
        Assert.StartsWith($"200 Monitor {arguments.Split(' ')[0]}: events after ", reply);
        return client;
    }

    private static async Task<List<string>> EventsAsync(LineClient client, int count)
    {
        var events = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var line = await client.ReadLineAsync();
            Assert.NotNull(line);
            Assert.StartsWith("EVENT ", line);
            events.Add(line);
        }
        return events;
    }

    private static long Seq(string eventLine) => long.Parse(eventLine.Split(' ')[1], CultureInfo.InvariantCulture);

    private static string Type(string eventLine) => eventLine.Split(' ')[2];

    [Fact]
    public async Task Monitor_receives_the_events_of_MakeCall_Established_Transfer_in_order()
    {
        await using var monitor = await MonitorAsync(_server, "100");
        await Do("MakeCall 100 101", "Answer 101", "MakeCall 100 102", "Answer 102", "Transfer 100");

        var events = await EventsAsync(monitor, 8);
        Assert.Equal(["Originated", "Delivered", "Established", "Held", "Originated", "Delivered", "Established", "Transferred"],
            events.Select(Type));
        Assert.All(events, e => Assert.Equal("100", e.Split(' ')[3]));
        var seqs = events.Select(Seq).ToList();
        Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.Second > p.First), "sequence numbers must grow: " + string.Join(",", seqs));
        Assert.Contains("called=101", events[1]);
        Assert.Contains("state=connected", events[2]);
        Assert.Contains("state=held", events[3]);
        Assert.Contains("state=null", events[7]);
        // After the transfer, 101 and 102 talk to each other.
        await _server.WaitForStatusAsync("101", s => s.Contains("=connected:102"), "connected to 102");
    }

    [Fact]
    public async Task Monitor_star_receives_the_events_of_every_device()
    {
        await using var monitor = await MonitorAsync(_server, "*");
        await Do("MakeCall 100 101");
        var events = await EventsAsync(monitor, 3);
        Assert.Equal(["Originated 100", "Delivered 100", "Delivered 101"], events.Select(e => string.Join(' ', e.Split(' ')[2..4])));
    }

    [Fact]
    public async Task A_client_that_reconnects_receives_exactly_the_events_it_missed()
    {
        // A second monitor that stays connected throughout is the record of what happened.
        await using var witness = await MonitorAsync(_server, "100");
        long last;
        await using (var first = await MonitorAsync(_server, "100"))
        {
            await Do("MakeCall 100 101");
            last = Seq((await EventsAsync(first, 2))[^1]);
        }
        await Do("Answer 101", "Drop 100", "Forward 100 *");
        var all = await EventsAsync(witness, 5);
        var missed = all.Where(e => Seq(e) > last).ToList();
        Assert.Equal(["Established", "ConnectionCleared", "DoNotDisturb"], missed.Select(Type));

        await using var resumed = await MonitorAsync(_server, $"100 {last}");
        Assert.Equal(missed, await EventsAsync(resumed, missed.Count));
        // Nothing more was buffered for it: the next line is the reply to a new command...
        Assert.StartsWith("200 Status 100:", await resumed.CommandAsync("Status 100"));
        // ...and live events continue after the missed ones.
        await Do("Forward 100");
        var live = Assert.Single(await EventsAsync(resumed, 1));
        Assert.Equal(Seq(Assert.Single(await EventsAsync(witness, 1))), Seq(live));
        Assert.Contains("DoNotDisturb 100", live);
        Assert.Contains("cause=off", live);
    }

    [Fact]
    public async Task Resuming_with_a_sequence_the_server_never_issued_says_the_server_restarted()
    {
        await using var client = await _server.ConnectAsync();
        var reply = await client.CommandAsync("Monitor 100 999999");
        Assert.StartsWith("200 ", reply);
        Assert.Contains("server restarted", reply);
    }
}
