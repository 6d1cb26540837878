using Switchboard.Switch.Calls;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// The call-control services on SIP phones. MakeCall, Drop, Redirect (of a ringing call), Pickup, Forward and Status
/// work on the switch now; Answer, Toggle, Transfer and Conference answer 501 until the switch implements them, never
/// a silent nothing.
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default) => NotYet($"Answer {device}", device);

    /// <inheritdoc />
    public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default) => NotYet($"Toggle {device}", device);

    /// <inheritdoc />
    public ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default) => NotYet($"Transfer {device}", device);

    /// <inheritdoc />
    public ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default) => NotYet($"Conference {device}", device);

    /// <inheritdoc />
    public async ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Drop {device}";
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        var conn = _model.FirstInState(device, ConnectionState.Connected) ?? _model.FirstInState(device, ConnectionState.Initiated)
            ?? _model.FirstInState(device, ConnectionState.Alerting) ?? _model.FirstInState(device, ConnectionState.Held);
        if (conn is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        var call = _dialogs.Values.Select(d => d.Call).FirstOrDefault(c => c.Caller.Call == conn.Call);
        if (call is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        bool ringingHere = conn.State == ConnectionState.Alerting;
        await EndCallAsync(call, ringingHere ? "rejected" : "hung up", ringingHere ? CallOutcome.Rejected : CallOutcome.Completed,
            finalToA: ringingHere ? 603 : 487, reason: ringingHere ? "Decline" : null).ConfigureAwait(false);
        return CallControlResult.Ok($"{what}: {(ringingHere ? "rejected" : "released")} call {conn.Call.Id}");
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default)
    {
        var what = setting.Mode switch
        {
            ForwardingMode.ForwardAll => $"Forward {device} {setting.Target}",
            ForwardingMode.DoNotDisturb => $"Forward {device} *",
            _ => $"Forward {device}",
        };
        if (!_model.IsDevice(device)) return Done(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (setting.Mode == ForwardingMode.ForwardAll)
        {
            if (setting.Target == device) return Done(ReplyCode.BadRequest, $"{what}: target is {device} itself");
            var kind = _dialPlan.Classify(setting.Target!, _model.IsDevice);
            if (kind == NumberKind.UnknownExtension) return Done(ReplyCode.NotFound, $"{what}: unknown extension {setting.Target}");
            if (kind == NumberKind.Outside && RefuseOutside(device, setting.Target!, what, count: false) is { } refused) return Done(refused);
        }
        _model.SetForwarding(device, setting);
        return Done(ReplyCode.Ok, setting.Mode switch
        {
            ForwardingMode.ForwardAll => $"{what}: calls to {device} go to {setting.Target}",
            ForwardingMode.DoNotDisturb => $"{what}: do not disturb on",
            _ => $"{what}: forwarding and do not disturb off",
        });
    }

    /// <inheritdoc />
    public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_model.Status(device));

    private ValueTask<CallControlResult> NotYet(string what, string device)
    {
        if (!_model.IsDevice(device)) return Done(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (!_model.IsReachable(device)) return Done(ReplyCode.Unreachable, $"{what}: no phone registered at {device}");
        return Done(ReplyCode.NotImplemented, $"{what}: not yet supported by the built-in SIP switch (third-party call control is on the way)");
    }

    private static ValueTask<CallControlResult> Done(ReplyCode code, string message) => ValueTask.FromResult(new CallControlResult(code, message));

    internal IEnumerable<B2BCall> Calls => _dialogs.Values.Select(d => d.Call).Distinct();
}
