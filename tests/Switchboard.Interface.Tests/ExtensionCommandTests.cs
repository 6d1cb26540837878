using System.Net;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Simulation;
using Switchboard.Telephony;

namespace Switchboard.Interface.Tests;

/// <summary>
/// The extension commands beyond the seed's nine (Hold, Retrieve, Dtmf) and MakeCall's reply naming its call: parsed,
/// run on the simulated phone system, and answered 501 by a phone system that has only the nine.
/// </summary>
public sealed class ExtensionCommandTests
{
    private static readonly ClientContext Local = new(FrontEndKind.Tcp, IPAddress.Loopback);

    private static (CommandInterpreter Interpreter, SimulatedPhoneSystem Simulation) Start(Func<ICallControl, ICallControl>? wrap = null)
    {
        var options = new SimulationOptions();
        var simulation = new SimulatedPhoneSystem(new CallModel(options.Devices, new CallEventHub()), options);
        return (new CommandInterpreter(wrap is null ? simulation : wrap(simulation), new AccessPolicy(new AccessOptions())), simulation);
    }

    [Theory]
    [InlineData("Hold 100", CommandVerb.Hold, null)]
    [InlineData("retrieve 100", CommandVerb.Retrieve, null)]
    [InlineData("DTMF 100 12*#ab", CommandVerb.Dtmf, "12*#AB")]
    public void Extension_commands_parse(string line, CommandVerb verb, string? argument)
    {
        Assert.True(CommandParser.TryParse(line, out var command, out var error), error);
        Assert.Equal(verb, command!.Verb);
        Assert.Equal("100", command.Device);
        Assert.Equal(argument, command.Argument);
    }

    [Theory]
    [InlineData("Dtmf 100", "missing digits")]
    [InlineData("Dtmf 100 12x", "not a DTMF digit string")]
    [InlineData("Dtmf 100 123456789012345678901234567890123", "at most 32 digits")]
    [InlineData("Hold 100 101", "unexpected extra argument")]
    public void Bad_extension_commands_are_400_naming_the_problem(string line, string expected)
    {
        Assert.False(CommandParser.TryParse(line, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MakeCall_names_its_call_and_hold_retrieve_dtmf_work_on_the_simulation()
    {
        var (interpreter, simulation) = Start();
        using var _ = interpreter;
        var made = await interpreter.ExecuteAsync("MakeCall 100 101", Local);
        var id = simulation.Model.ConnectionsOf("100").Single().Call.Id;
        Assert.Equal($"MakeCall 100 101: call {id}, calling 100, then 101", made.Message);
        Assert.Equal(ReplyCode.Ok, (await interpreter.ExecuteAsync("Answer 101", Local)).Code);
        for (int i = 0; i < 100 && simulation.Model.FirstInState("100", ConnectionState.Connected) is null; i++) await Task.Delay(20);

        Assert.Equal($"Hold 100: call {id} held", (await interpreter.ExecuteAsync("Hold 100", Local)).Message);
        Assert.Equal(ReplyCode.WrongState, (await interpreter.ExecuteAsync("Dtmf 100 5", Local)).Code);
        Assert.Equal($"Retrieve 100: retrieved call {id}", (await interpreter.ExecuteAsync("Retrieve 100", Local)).Message);
        var dtmf = await interpreter.ExecuteAsync("Dtmf 100 5#", Local);
        Assert.Equal(ReplyCode.Ok, dtmf.Code);
    }

    [Fact]
    public async Task A_phone_system_with_only_the_nine_services_answers_501_for_the_extensions()
    {
        var (interpreter, _) = Start(inner => new NineServicesOnly(inner));
        using var __ = interpreter;
        foreach (var line in new[] { "Hold 100", "Retrieve 100", "Dtmf 100 1" })
        {
            var reply = await interpreter.ExecuteAsync(line, Local);
            Assert.Equal(ReplyCode.NotImplemented, reply.Code);
            Assert.Contains("not available on the", reply.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A fake phone system that implements only the seed's services (as a connector written before the extensions).</summary>
    private sealed class NineServicesOnly(ICallControl inner) : ICallControl
    {
        public string Kind => "nine-only";
        public IReadOnlyCollection<string> Devices => inner.Devices;
        public ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default) => inner.MakeCallAsync(device, destination, cancellationToken);
        public ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default) => inner.AnswerAsync(device, cancellationToken);
        public ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default) => inner.DropAsync(device, cancellationToken);
        public ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default) => inner.RedirectAsync(device, target, cancellationToken);
        public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default) => inner.ToggleAsync(device, cancellationToken);
        public ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default) => inner.TransferAsync(device, cancellationToken);
        public ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default) => inner.ConferenceAsync(device, cancellationToken);
        public ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default) => inner.PickupAsync(device, other, cancellationToken);
        public ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default) => inner.ForwardAsync(device, setting, cancellationToken);
        public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) => inner.GetStatusAsync(device, cancellationToken);
    }
}
