using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>NNNNN through FCTIIPEX.INI (DESIGN.md §3): mapping by client address, reload on change, file name case.</summary>
public sealed class ExtensionMapTests
{
    private const string Maps127To100 = "[Extensions]\r\n127.0.0.1=100\r\n192.168.0.101=101\r\n";

    [Fact]
    public async Task A_web_link_with_NNNNN_makes_the_clients_own_extension_call()
    {
        await using var server = await TestServer.StartAsync(c => c.ExtensionsIni = Maps127To100);
        await using var http = await server.ConnectAsync();
        // Exactly what a browser sends for <a href="http://host:port/Makecall NNNNN 0123456789">.
        await http.SendAsync("GET /Makecall%20NNNNN%200123456789 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\n\r\n");
        var r = await http.ReadResponseAsync();
        Assert.NotNull(r);
        Assert.Equal(204, r.Status);
        Assert.Contains("MakeCall 100 0123456789", r.Header("X-Switchboard-Reply"));
        await server.WaitForStatusAsync("100", s => s.Contains("=connected:0123456789"), "connected to 0123456789");
    }

    [Fact]
    public async Task NNNNN_works_as_the_second_argument_too()
    {
        await using var server = await TestServer.StartAsync(c => c.ExtensionsIni = Maps127To100);
        await using var client = await server.ConnectAsync();
        Assert.StartsWith("200 ", await client.CommandAsync("MakeCall 101 NNNNN"));
        await server.WaitForStatusAsync("100", s => s.Contains("=alerting:101"), "ringing from 101");
        Assert.StartsWith("200 ", await client.CommandAsync("Pickup 102 NNNNN"));
        await server.WaitForStatusAsync("102", s => s.Contains("=connected:101"), "picked up");
    }

    [Fact]
    public async Task The_table_is_reloaded_when_the_file_changes()
    {
        await using var server = await TestServer.StartAsync(c => c.ExtensionsIni = Maps127To100);
        await using var client = await server.ConnectAsync();
        Assert.StartsWith("200 Status 100:", await client.CommandAsync("Status NNNNN"));

        await File.WriteAllTextAsync(Path.Combine(server.Dir, "FCTIIPEX.INI"), "[Extensions]\n127.0.0.1=103\n");
        await Poll.UntilAsync(() => client.CommandAsync("Status NNNNN"), r => r.StartsWith("200 Status 103:", StringComparison.Ordinal), "NNNNN to map to 103");

        File.Delete(Path.Combine(server.Dir, "FCTIIPEX.INI"));
        var gone = await Poll.UntilAsync(() => client.CommandAsync("Status NNNNN"), r => r.StartsWith("404 ", StringComparison.Ordinal), "the mapping to go away");
        Assert.Contains("127.0.0.1", gone);
    }

    [Fact]
    public async Task The_file_name_is_matched_case_insensitively()
    {
        await using var server = await TestServer.StartAsync(c =>
        {
            c.ExtensionsIni = Maps127To100;
            c.ExtensionsFileName = "fctiipex.ini";
        });
        Assert.Equal((await server.UdpAsync("Status NNNNN")).TrimEnd(), (await server.UdpAsync("Status 100")).TrimEnd());
        Assert.EndsWith("fctiipex.ini", server.Extensions.FilePath);
    }

    [Fact]
    public async Task An_IPv4_client_on_a_dual_stack_socket_matches_its_IPv4_entry()
    {
        await using var server = await TestServer.StartAsync(c =>
        {
            c.ExtensionsIni = Maps127To100;
            c.Ip.ListenAddress = "::";
        });
        // The server sees ::ffff:127.0.0.1 on both sockets.
        var v4 = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, server.EndPoint.Port);
        await using var client = await LineClient.ConnectAsync(v4);
        Assert.StartsWith("200 Status 100:", await client.CommandAsync("Status NNNNN"));
        await using var udp = new UdpChannel(v4);
        Assert.StartsWith("200 Status 100:", await udp.SendAsync("Status NNNNN"));
    }
}
