using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>
/// Every command through one front end against the simulation: the reply line, then the state the command left
/// behind. Each front end runs the same tests in its own class (below), so the four run in parallel.
/// </summary>
public abstract class CommandTests : IAsyncLifetime
{
    private ICommandChannel _channel = null!;

    /// <summary>The server of the current test.</summary>
    protected TestServer Server { get; private set; } = null!;

    /// <summary>Settings the front end needs (dial files need the watcher).</summary>
    protected virtual void Configure(ServerConfig config)
    {
    }

    /// <summary>Opens the front end under test.</summary>
    protected abstract Task<ICommandChannel> OpenAsync(TestServer server);

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(Configure);
        _channel = await OpenAsync(Server);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _channel.DisposeAsync();
        await Server.DisposeAsync();
    }

    private async Task Ok(string line, params string[] words)
    {
        var reply = await _channel.SendAsync(line);
        Assert.True(reply.StartsWith("200 ", StringComparison.Ordinal), $"'{line}' was answered '{reply}'");
        if (_channel.ShowsSuccessText) foreach (var w in words) Assert.Contains(w, reply);
    }

    private Task<string> Status(string device, string expected) =>
        Server.WaitForStatusAsync(device, s => s.Contains(expected, StringComparison.Ordinal), $"status containing '{expected}'");

    /// <summary>100 talks to 101, 100 then consults 102: 100 has the call with 101 held and the one with 102 active.</summary>
    private async Task TwoCallsAt100()
    {
        await Ok("MakeCall 100 101");
        await Ok("Answer 101");
        await Status("100", "=connected:101");
        await Ok("MakeCall 100 102", "MakeCall 100 102");
        await Ok("Answer 102");
        await Status("100", "=held:101");
        await Status("100", "=connected:102");
    }

    [Fact]
    public async Task MakeCall_rings_the_destination_and_Answer_connects_both()
    {
        await Ok("MakeCall 100 101", "MakeCall 100 101", "calling");
        await Status("100", "=initiated:101");
        await Status("101", "=alerting:100");
        await Ok("answer 101", "Answer 101", "answered");
        await Status("100", "=connected:101");
        await Status("101", "=connected:100");
    }

    [Fact]
    public async Task MakeCall_dials_a_formatted_outside_number_which_answers()
    {
        await Ok("MAKECALL 100 +49 (89) 123-4567", "+49891234567");
        await Status("100", "=connected:+49891234567");
    }

    [Fact]
    public async Task Drop_hangs_up_and_clears_both_sides()
    {
        await Ok("MakeCall 100 101");
        await Ok("Answer 101");
        await Status("101", "=connected:100");
        await Ok("Drop 100", "Drop 100", "hung up");
        await Status("100", "; idle");
        await Status("101", "; idle");
    }

    [Fact]
    public async Task Redirect_deflects_the_ringing_call_to_the_target()
    {
        await Ok("MakeCall 100 101");
        await Status("101", "=alerting:100");
        await Ok("Redirect 101 102", "Redirect 101 102", "deflected");
        await Status("102", "=alerting:100");
        await Status("101", "; idle");
    }

    [Fact]
    public async Task Toggle_swaps_the_active_and_the_held_call()
    {
        await TwoCallsAt100();
        await Ok("Toggle 100", "Toggle 100", "held");
        await Status("100", "=connected:101");
        await Status("100", "=held:102");
    }

    [Fact]
    public async Task Transfer_connects_the_two_partners_and_the_transferring_device_leaves()
    {
        await TwoCallsAt100();
        await Ok("Transfer 100", "Transfer 100");
        await Status("101", "=connected:102");
        await Status("102", "=connected:101");
        await Status("100", "; idle");
    }

    [Fact]
    public async Task Conference_joins_the_device_and_both_partners()
    {
        await TwoCallsAt100();
        await Ok("Conference 100", "Conference 100", "3 parties");
        var status = await Status("100", "=connected:");
        Assert.DoesNotContain("held", status);
        Assert.Contains("101", status);
        Assert.Contains("102", status);
        var at101 = await Status("101", "=connected:");
        Assert.Contains("100", at101);
        Assert.Contains("102", at101);
    }

    [Fact]
    public async Task Pickup_takes_the_call_ringing_at_another_device()
    {
        await Ok("MakeCall 100 101");
        await Status("101", "=alerting:100");
        await Ok("Pickup 102 101", "Pickup 102 101", "picked up");
        await Status("102", "=connected:100");
        await Status("100", "=connected:102");
        await Status("101", "; idle");
    }

    [Fact]
    public async Task Forward_sets_a_target_then_do_not_disturb_then_clears_both()
    {
        await Ok("Forward 100 101", "Forward 100 101", "go to 101");
        await Status("100", "; forward 101;");
        await Ok("Forward 100 *", "do not disturb on");
        await Status("100", "; dnd;");
        await Ok("Forward 100", "off");
        await Status("100", "; off;");
    }

    [Fact]
    public async Task Status_answers_with_the_device_state()
    {
        await Ok("Status 100", "Status 100: reachable; off; idle");
        await Ok("MakeCall 100 101");
        await Status("100", "=initiated:101");
        await Ok("Status 101", "Status 101: reachable; off; calls:", "=alerting:100");
    }

    [Fact]
    public async Task A_refused_command_gets_its_code_and_reason()
    {
        var reply = await _channel.SendAsync("Answer 100");
        Assert.StartsWith("409 ", reply);
        Assert.Contains("no ringing call at 100", reply);
    }
}

/// <summary>The commands on a TCP connection, all on one connection.</summary>
public sealed class TcpCommandTests : CommandTests
{
    /// <inheritdoc />
    protected override async Task<ICommandChannel> OpenAsync(TestServer server) => new TcpChannel(await server.ConnectAsync());
}

/// <summary>The commands as UDP datagrams.</summary>
public sealed class UdpCommandTests : CommandTests
{
    /// <inheritdoc />
    protected override Task<ICommandChannel> OpenAsync(TestServer server) => Task.FromResult<ICommandChannel>(new UdpChannel(server.EndPoint));
}

/// <summary>The commands as HTTP GETs on one keep-alive connection.</summary>
public sealed class HttpCommandTests : CommandTests
{
    /// <inheritdoc />
    protected override async Task<ICommandChannel> OpenAsync(TestServer server) => new HttpChannel(await server.ConnectAsync());
}

/// <summary>The commands as dial files, one file per command.</summary>
public sealed class DialFileCommandTests : CommandTests
{
    /// <inheritdoc />
    protected override void Configure(ServerConfig config) => config.DialFiles = ServerConfig.FastDialFiles();

    /// <inheritdoc />
    protected override Task<ICommandChannel> OpenAsync(TestServer server) => Task.FromResult<ICommandChannel>(new DialFileChannel(server.DialDir));
}
