using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>Every reply code of the table (DESIGN.md §1), each produced by a real request on a real socket.</summary>
public sealed class ErrorCodeTests
{
    private static async Task<string> Tcp(TestServer server, string line)
    {
        await using var client = await server.ConnectAsync();
        return await client.CommandAsync(line);
    }

    private static void AssertReply(string reply, int code, params string[] words)
    {
        Assert.True(reply.StartsWith($"{code} ", StringComparison.Ordinal), $"expected {code}, got '{reply}'");
        foreach (var w in words) Assert.Contains(w, reply);
    }

    [Theory]
    [InlineData("Dial 100 101", "unknown command 'Dial'")]
    [InlineData("MakeCall 100", "missing number")]
    [InlineData("MakeCall", "missing device")]
    [InlineData("Pickup 100", "missing the device")]
    [InlineData("Answer 100 101", "unexpected extra argument '101'")]
    [InlineData("Monitor 100 abc", "'abc' is not a sequence number")]
    [InlineData("MakeCall 100 0891x234", "unusable character 'x'")]
    [InlineData("MakeCall 100 ()-", "no digits")]
    [InlineData("MakeCall 100 49+89", "'+' is allowed only at the start")]
    [InlineData("Answer abc", "'abc' is not an extension number")]
    public async Task Malformed_commands_get_400_naming_the_problem(string line, string why)
    {
        await using var server = await TestServer.StartAsync();
        AssertReply(await Tcp(server, line), 400, why);
    }

    [Fact]
    public async Task Garbage_bytes_get_400_naming_the_byte_on_TCP_and_UDP()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.SendAsync([(byte)'S', (byte)'t', 0x01, 0xFF, (byte)'\r', (byte)'\n']);
        AssertReply(await client.ReadLineAsync() ?? "", 400, "unreadable byte \\x01");
        // The connection is still usable after garbage.
        AssertReply(await client.CommandAsync("Status 100"), 200, "Status 100");
        AssertReply((await server.UdpAsync("Answer 100\u00e9\n")).TrimEnd(), 400, "unreadable byte \\xE9");
    }

    [Fact]
    public async Task A_client_outside_the_allowed_networks_gets_403_on_every_front_end()
    {
        await using var server = await TestServer.StartAsync(c => c.Access.AllowedClients = ["10.0.0.0/8"]);
        AssertReply(await Tcp(server, "Status 100"), 403, "client 127.0.0.1 is not in Access:AllowedClients");
        AssertReply((await server.UdpAsync("MakeCall 100 101")).TrimEnd(), 403, "127.0.0.1", "AllowedClients");
        // On the stream port the refusal comes at accept, before a request is read (so it takes no slot): an HTTP
        // client sees the reply line and the connection closed.
        await using var http = await server.ConnectAsync();
        await http.SendAsync($"GET {Http.PathOf("MakeCall 100 101")} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(["403 client 127.0.0.1 is not in Access:AllowedClients"], await http.ReadToEndAsync());
        Assert.Contains("; idle", await server.StatusAsync("100"));
    }

    [Fact]
    public async Task A_mapped_client_restricted_to_its_own_extension_gets_403_for_others()
    {
        await using var server = await TestServer.StartAsync(c =>
        {
            c.ExtensionsIni = "[Extensions]\n127.0.0.1=100\n";
            c.Access.RestrictMappedClientsToOwnExtension = true;
        });
        AssertReply(await Tcp(server, "MakeCall 101 102"), 403, "may control only its own extension 100", "RestrictMappedClientsToOwnExtension");
        AssertReply(await Tcp(server, "MakeCall 100 102"), 200);
        AssertReply(await Tcp(server, "MakeCall NNNNN 0891234567"), 409, "100 is already placing a call");
    }

    [Fact]
    public async Task An_HTTP_request_from_a_foreign_origin_gets_403()
    {
        await using var server = await TestServer.StartAsync(c => c.Access.AllowedOrigins = ["https://crm.example.com"]);
        await using var http = await server.ConnectAsync();
        var refused = await http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"), "Origin: https://evil.example.org");
        Assert.Equal(403, refused.Status);
        Assert.Contains("origin https://evil.example.org is not in Access:AllowedOrigins", refused.Body);
        Assert.Null(refused.Header("Access-Control-Allow-Origin"));
        Assert.Contains("; idle", await server.StatusAsync("100"));

        var allowed = await http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"), "Origin: https://crm.example.com");
        Assert.Equal(204, allowed.Status);
        Assert.Equal("https://crm.example.com", allowed.Header("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task An_unknown_device_gets_404_naming_it()
    {
        await using var server = await TestServer.StartAsync();
        AssertReply(await Tcp(server, "Answer 999"), 404, "unknown device 999");
        AssertReply(await Tcp(server, "Status 999"), 404, "unknown device 999");
        AssertReply(await Tcp(server, "MakeCall 100 999"), 404, "unknown extension 999");
        AssertReply(await Tcp(server, "Monitor 999"), 404, "unknown device 999");
    }

    [Fact]
    public async Task NNNNN_without_a_mapping_gets_404_naming_the_address()
    {
        await using var server = await TestServer.StartAsync(c => c.ExtensionsIni = "[Extensions]\n192.168.0.101=101\n");
        AssertReply(await Tcp(server, "MakeCall NNNNN 0891234567"), 404, "no extension mapped to 127.0.0.1", "FCTIIPEX.INI");
    }

    [Fact]
    public async Task A_command_in_the_wrong_state_gets_409()
    {
        await using var server = await TestServer.StartAsync();
        AssertReply(await Tcp(server, "Answer 100"), 409, "Answer 100: no ringing call at 100");
        AssertReply(await Tcp(server, "Transfer 100"), 409, "needs an active and a held call at 100");
        AssertReply(await Tcp(server, "Toggle 100"), 409, "no held call at 100");
    }

    [Fact]
    public async Task An_unreachable_device_gets_480()
    {
        await using var server = await TestServer.StartAsync(c => c.Simulation.UnreachableDevices = ["105"]);
        AssertReply(await Tcp(server, "MakeCall 105 0891234567"), 480, "no phone reachable at 105");
        AssertReply(await Tcp(server, "MakeCall 100 105"), 480, "no phone reachable at 105");
    }

    [Fact]
    public async Task A_failing_phone_system_gets_500_and_the_server_keeps_serving()
    {
        await using var server = await TestServer.StartAsync(c => c.CallControl = new FakeFailingCallControl());
        await using var client = await server.ConnectAsync();
        AssertReply(await client.CommandAsync("MakeCall 100 101"), 500, "MakeCall 100", "internal error", "server log");
        AssertReply(await client.CommandAsync("Status 100"), 200, "Status 100");
        AssertReply((await server.UdpAsync("Drop 100")).TrimEnd(), 500, "Drop 100");
    }

    [Fact]
    public async Task What_cannot_be_done_gets_501()
    {
        await using var server = await TestServer.StartAsync(c => c.Simulation.ManualAnswerDevices = ["104"]);
        AssertReply(await Tcp(server, "MakeCall 100 104"), 200);
        await server.WaitForStatusAsync("104", s => s.Contains("=alerting:100"), "ringing");
        AssertReply(await Tcp(server, "Answer 104"), 501, "104 cannot be answered remotely");

        AssertReply((await server.UdpAsync("Monitor 100")).TrimEnd(), 501, "events need a TCP connection");
        await using var http = await server.ConnectAsync();
        var r = await http.RequestAsync("GET", Http.PathOf("Monitor 100"));
        Assert.Equal(501, r.Status);
        Assert.Contains("events need a TCP connection", r.Body);
    }

    [Fact]
    public async Task An_offline_phone_system_gets_503()
    {
        await using var server = await TestServer.StartAsync(c => c.Simulation.Offline = true);
        AssertReply(await Tcp(server, "MakeCall 100 101"), 503, "phone system unavailable");
        AssertReply(await Tcp(server, "Forward 100 *"), 503, "phone system unavailable");
    }
}
