using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// Dtmf (an extension command): digits go into a connected call as RFC 4733 telephone-events, as if the device's
/// keypad had sent them: every other phone in the call's mixer receives them. That needs the call's media in the
/// switch (MakeCall between extensions, transfers, conferences, anchored calls); a call whose media runs phone to
/// phone has no stream of the switch's to carry them, which the reply says with 501.
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> DtmfAsync(string device, string digits, CancellationToken cancellationToken = default)
    {
        var what = $"Dtmf {device} {digits}";
        if (Precheck(what, device) is { } refused) return refused;
        if (_model.FirstInState(device, ConnectionState.Connected) is not { } active)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no connected call at {device}");
        if (SessionOf(active) is not { } call) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call is not on this switch");
        return await call.RunAsync(() => Task.FromResult(SendDigits(what, call, active, device, digits))).ConfigureAwait(false);
    }

    private CallControlResult SendDigits(string what, CallSession call, Connection active, string device, string digits)
    {
        if (call.State != SessionState.Connected || active.State != ConnectionState.Connected)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: call {active.Call.Id} is not connected any more");
        if (call.Room is not { } room)
            return CallControlResult.Fail(ReplyCode.NotImplemented,
                $"{what}: the media of call {active.Call.Id} runs phone to phone, so the switch has no stream to send digits on (Sip:MediaAnchor always puts it in the switch)");
        var others = room.Members.Where(m => m.Connection != active).ToList();
        if (others.Count == 0) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: nobody else is in call {active.Call.Id}");
        // Two phones of one codec have their packets relayed; the digits need the switch's own stream to each phone.
        room.Mixer.KeepMixing();
        foreach (var digit in digits)
            foreach (var m in others)
                if (!m.Endpoint.SendDigit(digit))
                    return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: '{digit}' is not a DTMF digit");
        SwitchLog.DtmfSent(_log, active.Call.Id, device, digits, others.Count);
        return CallControlResult.Ok($"{what}: {digits.Length} digits sent into call {active.Call.Id}");
    }
}
