using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// The call-control services on SIP phones: Drop, Forward and Status here; MakeCall, Answer, Redirect, Pickup, Toggle,
/// Transfer and Conference in their own files.
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Drop {device}";
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        var conn = _model.FirstInState(device, ConnectionState.Connected) ?? _model.FirstInState(device, ConnectionState.Initiated)
            ?? _model.FirstInState(device, ConnectionState.Alerting) ?? _model.FirstInState(device, ConnectionState.Held);
        if (conn is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        if (SessionOf(conn) is not { } call) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        return await call.RunAsync(() => DropInTurnAsync(what, device, call, conn)).ConfigureAwait(false);
    }

    private async Task<CallControlResult> DropInTurnAsync(string what, string device, CallSession call, Connection conn)
    {
        if (call.State == SessionState.Ended) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: call {conn.Call.Id} ended meanwhile");
        // In a conference (three or more in the mixer) Drop takes this party out and the others stay connected; a
        // two-party call in a mixer (MakeCall, transfers) is an ordinary call and ends.
        if (call.Room is { } room && call.State == SessionState.Connected && room.Members.Count > 2
            && room.Members.FirstOrDefault(m => m.Connection == conn).Leg is { } member)
        {
            await LeaveRoomAsync(call, room, member, "dropped").ConfigureAwait(false);
            return CallControlResult.Ok($"{what}: {device} left conference call {conn.Call.Id}");
        }
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
            if (kind == NumberKind.Outside && RefuseOutside(device, setting.Target!, what, count: false) is { } refused) return ValueTask.FromResult(refused);
        }
        return _model.ForwardAsync(device, setting, what);
    }

    /// <inheritdoc />
    public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default)
    {
        if (_model.Status(device) is not { } status) return ValueTask.FromResult<DeviceStatus?>(null);
        var from = _bindings.Lookup(device).Select(b => Registrar.PhoneFlow.TryParseSource(b.Source, out var s) ? s.ToString() : null).OfType<string>().ToList();
        return ValueTask.FromResult<DeviceStatus?>(from.Count == 0 ? status : status with { RegisteredFrom = string.Join(',', from) });
    }

    private static ValueTask<CallControlResult> Done(ReplyCode code, string message) => ValueTask.FromResult(new CallControlResult(code, message));

    internal IEnumerable<CallSession> Calls => _dialogs.Values.Select(d => d.Call).Distinct();
}
