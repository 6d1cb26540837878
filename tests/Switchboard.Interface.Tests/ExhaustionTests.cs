using System.Net;
using System.Net.Sockets;
using Switchboard.Interface.Tests.Support;
using Switchboard.Tests.Shared;

namespace Switchboard.Interface.Tests;

/// <summary>
/// Connection and memory exhaustion on real loopback sockets: clients outside the allow-list, one address opening many
/// connections, idle connections while the server is nearly full, Monitor repeated on one connection, garbage lines.
/// The attacker uses 127.0.0.2, the other client 127.0.0.3 (Linux routes all of 127/8 to loopback).
/// </summary>
public sealed class ExhaustionTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Other = IPAddress.Parse("127.0.0.3");

    private static Action<Socket> From(IPAddress address) => s => s.Bind(new IPEndPoint(address, 0));

    [Fact]
    public async Task A_client_not_allowed_is_closed_at_accept_and_takes_no_connection_slot()
    {
        var log = new CapturingLogger();
        await using var server = await TestServer.StartAsync(c =>
        {
            c.Access.AllowedClients = ["127.0.0.1/32"];
            c.Ip.MaxConnections = 4;
            c.Log = log;
        });
        var held = new List<LineClient>();
        try
        {
            for (int i = 0; i < 20; i++) held.Add(await server.ConnectAsync(From(Attacker)));
            // Every one of them is told why and closed, even though the attacker keeps its sockets open.
            foreach (var c in held) Assert.Equal(["403 client 127.0.0.2 is not in Access:AllowedClients"], await c.ReadToEndAsync());
            Assert.Equal(0, server.Server.ConnectionCount);

            await using var allowed = await server.ConnectAsync();
            Assert.StartsWith("200 Status 100:", await allowed.CommandAsync("Status 100"));
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
        Assert.Equal(3, log.Count("Refusing connection from 127.0.0.2"));
    }

    [Fact]
    public async Task One_address_cannot_fill_the_server_other_clients_still_get_a_connection()
    {
        await using var server = await TestServer.StartAsync(c =>
        {
            c.Ip.MaxConnections = 8;
            c.Ip.MaxConnectionsPerClient = 3;
        });
        var held = new List<LineClient>();
        try
        {
            for (int i = 0; i < 8; i++) held.Add(await server.ConnectAsync(From(Attacker)));
            for (int i = 0; i < 3; i++) Assert.StartsWith("200 ", await held[i].CommandAsync("Status 100"));
            for (int i = 3; i < 8; i++)
                Assert.Equal(["503 too many connections from 127.0.0.2 (IpInterface:MaxConnectionsPerClient 3); try again later"], await held[i].ReadToEndAsync());

            await using var other = await server.ConnectAsync(From(Other));
            Assert.StartsWith("200 Status 101:", await other.CommandAsync("Status 101"));
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Idle_connections_are_closed_sooner_while_the_server_is_over_three_quarters_full()
    {
        await using var server = await TestServer.StartAsync(c =>
        {
            c.Ip.MaxConnections = 4;
            c.Ip.IdleTimeout = TimeSpan.FromMinutes(10);
            c.Ip.IdleTimeoutUnderLoad = TimeSpan.FromMilliseconds(300);
        });
        await using var monitor = await server.ConnectAsync();
        Assert.StartsWith("200 Monitor 100: events after ", await monitor.CommandAsync("Monitor 100"));
        var idle = new List<LineClient>();
        try
        {
            for (int i = 0; i < 3; i++) idle.Add(await server.ConnectAsync());
            foreach (var c in idle) Assert.Equal(["408 idle timeout (server busy); closing"], await c.ReadToEndAsync());
        }
        finally
        {
            foreach (var c in idle) await c.DisposeAsync();
        }
        // A connection with Monitor waits for events, so it is not idle however long it is quiet.
        Assert.StartsWith("200 Status 100:", await monitor.CommandAsync("Status 100"));
    }

    [Fact]
    public async Task Repeating_Monitor_on_one_connection_adds_no_subscriptions_and_their_number_is_bounded()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.MaxMonitorsPerConnection = 3);
        await using var client = await server.ConnectAsync();
        await client.SendAsync(string.Concat(Enumerable.Repeat("Monitor *\r\n", 2000)));
        Assert.StartsWith("200 Monitor *: events after ", await client.ReadLineAsync());
        for (int i = 1; i < 2000; i++) Assert.Equal("200 Monitor *: already monitored on this connection; events continue", await client.ReadLineAsync());
        Assert.Equal(1, server.Events.SubscriberCount);

        Assert.StartsWith("200 Monitor 100: events after ", await client.CommandAsync("Monitor 100"));
        Assert.StartsWith("200 Monitor 101: events after ", await client.CommandAsync("Monitor 101"));
        Assert.Equal("503 Monitor 102: this connection already monitors 3 devices (IpInterface:MaxMonitorsPerConnection); use Monitor *",
            await client.CommandAsync("Monitor 102"));
        Assert.Equal(3, server.Events.SubscriberCount);
    }

    [Fact]
    public async Task A_flood_of_bad_command_lines_logs_a_sample_and_one_summary()
    {
        var log = new CapturingLogger();
        var server = await TestServer.StartAsync(c => c.Log = log);
        await using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(string.Concat(Enumerable.Repeat("Bogus\u001b[2J 100\r\n", 1000)));
            for (int i = 0; i < 1000; i++) Assert.StartsWith("400 ", await client.ReadLineAsync());
            Assert.StartsWith("200 ", await client.CommandAsync("Status 100"));
        }
        Assert.Equal("400 ", (await server.UdpAsync("Bogus 100"))[..4]);
        await server.DisposeAsync();

        Assert.Equal(3, log.Count("400 from 127.0.0.1"));
        Assert.Equal(1, log.Count("998 more bad command lines from 127.0.0.1 in the last 10 s"));
        Assert.DoesNotContain(log.Lines, l => l.Text.Contains('\u001b') || l.Text.Contains('\r') || l.Text.Contains('\n'));
    }
}
