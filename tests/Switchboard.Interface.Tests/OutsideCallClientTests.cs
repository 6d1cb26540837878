using System.Net;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Interface.Tests.Support;
using Switchboard.Simulation;
using Switchboard.Telephony;

namespace Switchboard.Interface.Tests;

/// <summary>Access:OutsideCallClients (issue 5): only listed clients may make commands reach outside numbers.</summary>
public sealed class OutsideCallClientTests
{
    private const string Rule = "may not dial outside numbers (Access:OutsideCallClients)";

    private static Task<TestServer> StartRestrictedAsync(Action<ServerConfig>? more = null) => TestServer.StartAsync(c =>
    {
        // Loopback is left out on purpose, so the test client on 127.0.0.1 is a "LAN" client without the right.
        c.Access.OutsideCallClients = ["10.0.0.0/8"];
        more?.Invoke(c);
    });

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
    [InlineData("10.1.2.3", true)]
    [InlineData("192.168.1.5", false)]
    [InlineData("2001:db8::1", true)]
    [InlineData("2001:db9::1", false)]
    [InlineData("::ffff:10.1.2.3", true)]
    [InlineData("::ffff:192.168.1.5", false)]
    public void The_policy_matches_IPv4_IPv6_and_IPv4_mapped_addresses(string address, bool allowed)
    {
        var policy = new AccessPolicy(new AccessOptions { OutsideCallClients = ["10.0.0.0/8", "2001:db8::/32"] });
        var refusal = policy.CheckOutsideCall(IPAddress.Parse(address));
        if (allowed)
        {
            Assert.Null(refusal);
        }
        else
        {
            // A mapped address is named as the IPv4 address the operator would write in the list.
            var shown = IPAddress.Parse(address) is { IsIPv4MappedToIPv6: true } a ? a.MapToIPv4().ToString() : address;
            Assert.Equal($"client {shown} {Rule}", refusal);
        }
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("192.168.1.5", false)]
    [InlineData("10.0.0.7", false)]
    [InlineData("fe80::1", false)]
    public void By_default_only_loopback_may_dial_outside(string address, bool allowed) =>
        Assert.Equal(allowed, new AccessPolicy(new AccessOptions()).CheckOutsideCall(IPAddress.Parse(address)) is null);

    [Fact]
    public void Dial_files_count_as_local_and_a_bad_entry_fails_at_start_up()
    {
        Assert.Null(new AccessPolicy(new AccessOptions { OutsideCallClients = [] }).CheckOutsideCall(null));
        var ex = Assert.Throws<FormatException>(() => new AccessPolicy(new AccessOptions { OutsideCallClients = ["10.0.0.0/33"] }));
        Assert.Contains("Access:OutsideCallClients", ex.Message);
    }

    [Theory]
    [InlineData("MakeCall 100 0891234567")]
    [InlineData("Redirect 100 0891234567")]
    [InlineData("Forward 100 0891234567")]
    public async Task A_client_not_listed_gets_403_for_an_outside_number_and_nothing_changes(string line)
    {
        await using var server = await StartRestrictedAsync();
        Assert.Equal($"403 {line}: client 127.0.0.1 {Rule}", await Tcp(server, line));
        Assert.Contains("; off; idle", await server.StatusAsync("100"));
    }

    [Fact]
    public async Task The_refusal_comes_before_the_phone_system_is_called()
    {
        // Every service of this fake throws (a 500), so a 403 proves the interpreter refused on its own.
        await using var server = await StartRestrictedAsync(c => c.CallControl = new FakeFailingCallControl());
        foreach (var line in new[] { "MakeCall 100 0891234567", "Redirect 100 +49 89 1234567", "Forward 100 0891234567" })
            AssertReply(await Tcp(server, line), 403, Rule);
        AssertReply(await Tcp(server, "MakeCall 100 101"), 500);
    }

    [Fact]
    public async Task A_client_not_listed_still_reaches_extensions_and_sets_dnd()
    {
        await using var server = await StartRestrictedAsync();
        await using var client = await server.ConnectAsync();
        AssertReply(await client.CommandAsync("MakeCall 100 101"), 200, "MakeCall 100 101");
        await server.WaitForStatusAsync("101", s => s.Contains("=alerting:100", StringComparison.Ordinal), "ringing from 100");
        AssertReply(await client.CommandAsync("Redirect 101 102"), 200);
        AssertReply(await client.CommandAsync("Forward 103 104"), 200);
        AssertReply(await client.CommandAsync("Forward 104 *"), 200);
        AssertReply(await client.CommandAsync("Forward 104"), 200);
        // A short number that is no device stays the phone system's 404, not a 403.
        AssertReply(await client.CommandAsync("MakeCall 105 999"), 404, "unknown extension 999");
    }

    [Fact]
    public async Task UDP_and_HTTP_clients_are_judged_by_their_source_address()
    {
        await using var server = await StartRestrictedAsync();
        AssertReply((await server.UdpAsync("MakeCall 100 0891234567")).TrimEnd(), 403, "client 127.0.0.1", Rule);
        await using var http = await server.ConnectAsync();
        var r = await http.RequestAsync("GET", Http.PathOf("Forward 100 +49 89 1234567"));
        Assert.Equal(403, r.Status);
        Assert.Contains(Rule, r.Body);
        // HEAD checks without executing, and must give the same answer as GET.
        var head = await http.RequestAsync("HEAD", Http.PathOf("MakeCall 100 0891234567"));
        Assert.Equal(403, head.Status);
        Assert.Contains("; off; idle", await server.StatusAsync("100"));
    }

    [Fact]
    public async Task With_the_default_list_a_loopback_client_dials_outside()
    {
        await using var server = await TestServer.StartAsync();
        AssertReply(await Tcp(server, "MakeCall 100 0891234567"), 200, "MakeCall 100 0891234567");
        await server.WaitForStatusAsync("100", s => s.Contains(":0891234567", StringComparison.Ordinal), "calling 0891234567");
    }

    [Fact]
    public async Task With_the_default_list_a_LAN_client_is_refused_but_a_dial_file_is_not()
    {
        using var sim = new SimulatedPhoneSystem(new CallModel(["100", "101"], new CallEventHub()), new SimulationOptions { OutsideAnswerDelay = TimeSpan.FromMinutes(1) });
        var interpreter = new CommandInterpreter(sim, new AccessPolicy(new AccessOptions()));
        var lan = await interpreter.ExecuteAsync("MakeCall 100 0891234567", new ClientContext(FrontEndKind.Tcp, IPAddress.Parse("::ffff:192.168.1.5")));
        Assert.Equal(ReplyCode.Forbidden, lan.Code);
        Assert.Equal($"MakeCall 100 0891234567: client 192.168.1.5 {Rule}", lan.Message);
        var file = await interpreter.ExecuteAsync("MakeCall 100 0891234567", new ClientContext(FrontEndKind.DialFile, null));
        Assert.Equal(ReplyCode.Ok, file.Code);
    }

    [Fact]
    public async Task The_interpreter_uses_the_dial_plan_it_is_given()
    {
        // A phone system that calls 3-digit numbers outside needs the same plan here, or "999" would slip through.
        using var sim = new SimulatedPhoneSystem(new CallModel(["100", "101"], new CallEventHub()), new SimulationOptions { MinOutsideDigits = 3 });
        var interpreter = new CommandInterpreter(sim, new AccessPolicy(new AccessOptions())) { DialPlan = new DialPlan(3) };
        var lan = await interpreter.ExecuteAsync("MakeCall 100 999", new ClientContext(FrontEndKind.Tcp, IPAddress.Parse("192.168.1.5")));
        Assert.Equal(ReplyCode.Forbidden, lan.Code);
    }
}
