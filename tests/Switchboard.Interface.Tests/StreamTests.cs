using System.Net.Sockets;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>Command lines on TCP and UDP (DESIGN.md §1): line ends, simple one-shot clients, several lines per datagram.</summary>
public sealed class StreamTests : IAsyncLifetime
{
    private TestServer _server = null!;

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await TestServer.StartAsync(c => c.Ip.MaxLinesPerDatagram = 4);

    /// <inheritdoc />
    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_one_command_client_without_line_end_that_shuts_down_sending_gets_its_reply()
    {
        await using var client = await _server.ConnectAsync();
        await client.SendAsync("MakeCall 100 101");
        client.Socket.Shutdown(SocketShutdown.Send);
        var reply = Assert.Single(await client.ReadToEndAsync());
        Assert.StartsWith("200 MakeCall 100 101", reply);
        await _server.WaitForStatusAsync("101", s => s.Contains("=alerting:100"), "ringing");
    }

    [Fact]
    public async Task A_client_that_shuts_down_after_several_lines_gets_every_reply()
    {
        await using var client = await _server.ConnectAsync();
        await client.SendAsync("Status 100\r\nStatus 101\r\nStatus 102");
        client.Socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(["200 Status 100", "200 Status 101", "200 Status 102"], (await client.ReadToEndAsync()).Select(l => l[..14]));
    }

    [Fact]
    public async Task CR_LF_and_CRLF_all_end_lines_and_empty_or_blank_lines_are_ignored()
    {
        await using var client = await _server.ConnectAsync();
        await client.SendAsync("Status 100\rstatus\t101\n\r\n\n  \r\nSTATUS  102 \r\n");
        Assert.StartsWith("200 Status 100:", await client.ReadLineAsync());
        Assert.StartsWith("200 Status 101:", await client.ReadLineAsync());
        Assert.StartsWith("200 Status 102:", await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_line_split_over_several_packets_is_one_command()
    {
        await using var client = await _server.ConnectAsync();
        await client.SendAsync("Make");
        await Task.Delay(50);
        await client.SendAsync("Call 100 ");
        await Task.Delay(50);
        await client.SendAsync("0891234567\r");
        await client.SendAsync("\nStatus 100\r\n");
        Assert.StartsWith("200 MakeCall 100 0891234567", await client.ReadLineAsync());
        // The CR and LF arrived in different packets: still one line end, so no empty-command reply in between.
        Assert.StartsWith("200 Status 100:", await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_datagram_with_several_lines_gets_one_datagram_with_one_reply_per_line()
    {
        var reply = await _server.UdpAsync("Status 100\r\nMakeCall 100 101\n\r\n \t \nBogus 1\rStatus 101\r\n");
        var lines = reply.Split("\r\n");
        Assert.Equal("", lines[^1]);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("200 Status 100: reachable; off; idle", lines[0]);
        Assert.StartsWith("200 MakeCall 100 101", lines[1]);
        Assert.StartsWith("400 unknown command 'Bogus'", lines[2]);
        Assert.StartsWith("200 Status 101: reachable; off; calls:", lines[3]);
    }

    [Fact]
    public async Task A_datagram_with_too_many_lines_is_cut_off_with_a_400()
    {
        var lines = (await _server.UdpAsync("Status 100\nStatus 101\nStatus 102\nStatus 103\nStatus 104\nStatus 105\n")).Split("\r\n");
        Assert.Equal(6, lines.Length);
        Assert.StartsWith("200 Status 103:", lines[3]);
        Assert.StartsWith("400 more than 4 commands in one datagram", lines[4]);
    }
}
