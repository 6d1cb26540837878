using Switchboard.Simulation;
using Switchboard.Telephony;

namespace Switchboard.Simulation.Tests;

public class SimulatedPhoneSystemTests : IDisposable
{
    private readonly CallEventHub _hub = new();
    private readonly CallModel _model;
    private readonly SimulatedPhoneSystem _sim;

    public SimulatedPhoneSystemTests()
    {
        var options = new SimulationOptions { OutsideAnswerDelay = TimeSpan.FromMilliseconds(20), UnreachableDevices = ["105"], ManualAnswerDevices = ["104"] };
        _model = new CallModel(options.Devices, _hub);
        _sim = new SimulatedPhoneSystem(_model, options);
    }

    public void Dispose() => _sim.Dispose();

    [Fact]
    public async Task MakeCall_rings_the_destination_and_Answer_connects_both()
    {
        Assert.Equal(ReplyCode.Ok, (await _sim.MakeCallAsync("100", "101")).Code);
        Assert.Equal(ConnectionState.Initiated, State("100"));
        Assert.Equal(ConnectionState.Alerting, State("101"));
        Assert.Equal(ReplyCode.Ok, (await _sim.AnswerAsync("101")).Code);
        Assert.Equal(ConnectionState.Connected, State("100"));
        Assert.Equal(ConnectionState.Connected, State("101"));
    }

    [Fact]
    public async Task Outside_number_answers_by_itself()
    {
        await _sim.MakeCallAsync("100", "0891234567");
        await WaitFor(() => State("100") == ConnectionState.Connected);
        Assert.Equal(["0891234567"], _model.Status("100")!.Connections.Single().Partners);
    }

    [Fact]
    public async Task Redirect_deflects_a_ringing_call_else_transfers_the_connected_one()
    {
        await _sim.MakeCallAsync("100", "101");
        var r = await _sim.RedirectAsync("101", "102");
        Assert.Contains("deflected", r.Message);
        Assert.Empty(_model.ConnectionsOf("101"));
        Assert.Equal(ConnectionState.Alerting, State("102"));

        await _sim.AnswerAsync("102");
        r = await _sim.RedirectAsync("102", "103");
        Assert.Contains("transferred", r.Message);
        Assert.Empty(_model.ConnectionsOf("102"));
        Assert.Equal(ConnectionState.Alerting, State("103"));
        Assert.Equal(ConnectionState.Connected, State("100"));
    }

    [Fact]
    public async Task Consultation_then_Toggle_Transfer_and_Conference()
    {
        await _sim.MakeCallAsync("100", "101");
        await _sim.AnswerAsync("101");
        await _sim.MakeCallAsync("100", "102"); // puts 101 on hold
        await _sim.AnswerAsync("102");
        Assert.Equal([ConnectionState.Held, ConnectionState.Connected], _model.ConnectionsOf("100").Select(c => c.State));

        await _sim.ToggleAsync("100");
        Assert.Equal([ConnectionState.Connected, ConnectionState.Held], _model.ConnectionsOf("100").Select(c => c.State));

        Assert.Equal(ReplyCode.Ok, (await _sim.ConferenceAsync("100")).Code);
        var conf = _model.ConnectionsOf("100").Single();
        Assert.Equal(["101", "102"], _model.PartnersOf(conf).Select(p => p.Party).Order());

        await _sim.DropAsync("100");
        Assert.Equal(["102"], _model.Status("101")!.Connections.Single().Partners);
    }

    [Fact]
    public async Task Transfer_connects_the_two_partners()
    {
        await _sim.MakeCallAsync("100", "101");
        await _sim.AnswerAsync("101");
        await _sim.MakeCallAsync("100", "102");
        Assert.Equal(ReplyCode.Ok, (await _sim.TransferAsync("100")).Code);
        Assert.Empty(_model.ConnectionsOf("100"));
        await _sim.AnswerAsync("102");
        Assert.Equal(["101"], _model.Status("102")!.Connections.Single().Partners);
    }

    [Fact]
    public async Task Pickup_takes_the_ringing_call_and_connects_it()
    {
        await _sim.MakeCallAsync("100", "101");
        Assert.Equal(ReplyCode.Ok, (await _sim.PickupAsync("102", "101")).Code);
        Assert.Empty(_model.ConnectionsOf("101"));
        Assert.Equal(ConnectionState.Connected, State("102"));
        Assert.Equal(ConnectionState.Connected, State("100"));
    }

    [Fact]
    public async Task Dnd_refuses_and_forwarding_diverts()
    {
        await _sim.ForwardAsync("101", ForwardingSetting.Dnd);
        await _sim.MakeCallAsync("100", "101");
        Assert.Empty(_model.ConnectionsOf("100"));
        await _sim.ForwardAsync("101", ForwardingSetting.To("102"));
        await _sim.MakeCallAsync("100", "101");
        Assert.Equal(ConnectionState.Alerting, State("102"));
        Assert.Empty(_model.ConnectionsOf("101"));
    }

    [Theory]
    [InlineData("Answer", "100", ReplyCode.WrongState)]
    [InlineData("Toggle", "100", ReplyCode.WrongState)]
    [InlineData("Transfer", "100", ReplyCode.WrongState)]
    [InlineData("Answer", "999", ReplyCode.NotFound)]
    [InlineData("Answer", "105", ReplyCode.Unreachable)]
    public async Task Wrong_state_unknown_and_unreachable_devices_are_refused(string verb, string device, ReplyCode expected)
    {
        var r = verb switch
        {
            "Answer" => await _sim.AnswerAsync(device),
            "Toggle" => await _sim.ToggleAsync(device),
            _ => await _sim.TransferAsync(device),
        };
        Assert.Equal(expected, r.Code);
        Assert.Contains(device, r.Message);
    }

    [Fact]
    public async Task Answer_on_a_phone_that_cannot_be_answered_remotely_is_501()
    {
        await _sim.MakeCallAsync("100", "104");
        var r = await _sim.AnswerAsync("104");
        Assert.Equal(ReplyCode.NotImplemented, r.Code);
        Assert.Equal(ConnectionState.Alerting, State("104"));
    }

    private ConnectionState State(string dev) => _model.ConnectionsOf(dev).Single().State;

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 250 && !condition(); i++) await Task.Delay(20);
        Assert.True(condition());
    }
}
