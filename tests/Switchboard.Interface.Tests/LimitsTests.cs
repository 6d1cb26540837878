using System.Net.Sockets;
using System.Text;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>
/// Limits and hostile clients: over-long lines, connection cap, slow-loris senders, clients that never read, idle
/// connections. Timeouts are set short so the server acts quickly; the tests only wait (bounded) for it to act.
/// </summary>
public sealed class LimitsTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task An_over_long_line_gets_400_and_the_connection_serves_the_next_line()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.MaxLineLength = 64);
        await using var client = await server.ConnectAsync();
        await client.SendAsync("MakeCall 100 " + new string('1', 100) + "\r\nStatus 100\r\n");
        var tooLong = await client.ReadLineAsync();
        Assert.StartsWith("400 line too long (more than 64 bytes)", tooLong);
        Assert.StartsWith("200 Status 100: reachable; off; idle", await client.ReadLineAsync());

        // A long line arriving without its end yet is refused at once and skipped up to its line end.
        await client.SendAsync("Status 100 " + new string('x', 200));
        Assert.StartsWith("400 line too long", await client.ReadLineAsync());
        await client.SendAsync(new string('x', 200) + "\r\nStatus 101\r\n");
        Assert.StartsWith("200 Status 101:", await client.ReadLineAsync());
    }

    [Fact]
    public async Task An_over_long_datagram_line_gets_400()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.MaxLineLength = 64);
        var lines = (await server.UdpAsync("Status " + new string('1', 100) + "\nStatus 100\n")).Split("\r\n");
        Assert.StartsWith("400 line too long", lines[0]);
        Assert.StartsWith("200 Status 100:", lines[1]);
    }

    [Fact]
    public async Task Connections_beyond_the_maximum_are_told_503_and_closed()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.MaxConnections = 2);
        await using var a = await server.ConnectAsync();
        await using var b = await server.ConnectAsync();
        Assert.StartsWith("200 ", await a.CommandAsync("Status 100"));
        Assert.StartsWith("200 ", await b.CommandAsync("Status 100"));
        await using (var c = await server.ConnectAsync())
        {
            Assert.Equal(["503 too many connections; try again later"], await c.ReadToEndAsync());
        }
        Assert.StartsWith("200 ", await a.CommandAsync("Status 101"));

        // A freed slot is available again.
        await b.DisposeAsync();
        await Poll.UntilAsync(() => server.Server.ConnectionCount < 2, "the closed connection to be released");
        await using var d = await server.ConnectAsync();
        Assert.StartsWith("200 ", await d.CommandAsync("Status 100"));
    }

    [Fact]
    public async Task A_slow_loris_HTTP_client_gets_408_while_others_are_served()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.HttpRequestTimeout = Short);
        await using var slow = await server.ConnectAsync();
        await slow.SendAsync("GET /MakeCall%20100%20101 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slo");

        await using (var other = await server.ConnectAsync())
        {
            Assert.Equal(204, (await other.RequestAsync("GET", "/Status%20100")).Status);
            Assert.StartsWith("200 Status 100:", await server.UdpAsync("Status 100"));
        }

        var r = await slow.ReadResponseAsync();
        Assert.NotNull(r);
        Assert.Equal(408, r.Status);
        Assert.Equal("close", r.Header("Connection"));
        Assert.Empty(await slow.ReadToEndAsync());
        Assert.Contains("; idle", await server.StatusAsync("100"));
    }

    [Fact]
    public async Task A_command_line_left_unfinished_gets_408_and_is_not_executed()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.LineTimeout = Short);
        await using var slow = await server.ConnectAsync();
        await slow.SendAsync("MakeCall 100 10");
        var lines = await slow.ReadToEndAsync();
        Assert.StartsWith("408 command line not completed", Assert.Single(lines));
        Assert.Contains("; idle", await server.StatusAsync("100"));
    }

    [Fact]
    public async Task A_client_that_never_reads_its_replies_is_disconnected_and_others_are_served()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.WriteTimeout = Short);
        // A small receive window fills quickly, so the server's writes stall.
        await using var deaf = await server.ConnectAsync(s => s.ReceiveBufferSize = 4096);
        var batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("Status 100\r\n", 10_000)));
        var flood = Task.Run(async () =>
        {
            try
            {
                // Until the server stops reading (it waits for its stalled writes) and then cuts the connection.
                for (int i = 0; i < 1000; i++) await deaf.Socket.SendAsync(batch, SocketFlags.None);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        });

        await using (var other = await server.ConnectAsync())
        {
            Assert.StartsWith("200 Status 101:", await other.CommandAsync("Status 101"));
            await Poll.UntilAsync(() => server.Server.ConnectionCount == 1, "the non-reading client to be disconnected");
            Assert.StartsWith("200 Status 102:", await other.CommandAsync("Status 102"));
        }
        Assert.True(await Task.WhenAny(flood, Task.Delay(Poll.Timeout)) == flood, "the flooding client's sends end once it is cut off");
    }

    [Fact]
    public async Task An_idle_connection_is_closed_but_a_monitoring_one_stays()
    {
        await using var server = await TestServer.StartAsync(c => c.Ip.IdleTimeout = Short);
        await using var monitor = await server.ConnectAsync();
        Assert.StartsWith("200 Monitor 100", await monitor.CommandAsync("Monitor 100"));
        await using var idle = await server.ConnectAsync();
        Assert.StartsWith("200 ", await idle.CommandAsync("Status 100"));

        Assert.Equal(["408 idle timeout; closing"], await idle.ReadToEndAsync());
        // The monitoring connection outlived the idle one and still delivers events.
        Assert.StartsWith("200 ", await server.UdpAsync("Forward 100 *"));
        Assert.StartsWith("EVENT ", await monitor.ReadLineAsync());
    }
}
