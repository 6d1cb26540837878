using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// Redirect (deflection) and Pickup: a ringing call's leg B is cancelled and the caller's media is offered on a new
/// leg to another phone; the caller's side of the call is not touched, so it never notices more than a longer ring.
/// Redirect of a connected call is a blind transfer (see <c>TransferConnected</c>).
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default)
    {
        var what = $"Redirect {device} {target}";
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (CheckRetarget(what, device, target, out var route) is { } refused) return refused;
        var ringing = _model.FirstInState(device, ConnectionState.Alerting);
        var connected = ringing is null ? _model.FirstInState(device, ConnectionState.Connected) : null;
        if (ringing is null && connected is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing or connected call at {device}");
        if (connected is not null)
        {
            if (_model.PartnersOf(connected).Any(p => p.Party == route.Target))
                return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: {route.Target} is already the other party of the call");
            if (SessionOf(connected) is not { } session) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call is not connected on this switch");
            return await session.RunAsync(() => TransferConnected(what, connected, route.Target, "transferred by " + device)).ConfigureAwait(false);
        }
        if (RingingSession(ringing!) is not { } call) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call is not on this switch");
        if (!_model.IsDevice(route.Target)) return await call.RunAsync(() => Task.FromResult(RetargetOut(what, call, ringing!, route, device))).ConfigureAwait(false);
        return await call.RunAsync(() => Task.FromResult(Retarget(what, call, ringing!, route.Target, autoAnswer: false, "deflected by " + device))).ConfigureAwait(false);
    }

    /// <summary>Whether a call may be moved from device to target (Redirect, or a REFER from the phone), and where it ends up.</summary>
    private CallControlResult? CheckRetarget(string what, string device, string target, out Route route)
    {
        route = default;
        if (target == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: target is {device} itself");
        var kind = _dialPlan.Classify(target, _model.IsDevice);
        if (kind == NumberKind.UnknownExtension) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown extension {target}");
        route = _model.Resolve(target);
        if (route.DoNotDisturb) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: {route.Target} has do-not-disturb on");
        return null;
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default)
    {
        var what = $"Pickup {device} {other}";
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (!_model.IsDevice(other)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {other}");
        if (other == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: a device cannot pick up its own call");
        var ringing = _model.FirstInState(other, ConnectionState.Alerting);
        if (ringing is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing call at {other}");
        if (_model.ActiveOf(device) is not null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: {device} is already in a call");
        if (RingingSession(ringing) is not { } call) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call is not on this switch");
        return await call.RunAsync(() => Task.FromResult(Retarget(what, call, ringing, device, autoAnswer: true, "picked up by " + device))).ConfigureAwait(false);
    }

    /// <summary>The session in which a connection is the ringing callee (not a MakeCall caller's own phone).</summary>
    private static CallSession? RingingSession(Connection ringing) => SessionOf(ringing) is { } s && s.Callee == ringing ? s : null;

    /// <summary>Rings another phone (or the same one with auto-answer hints) instead of the ringing leg; in the session's turn.</summary>
    private CallControlResult Retarget(string what, CallSession call, Connection ringing, string newTarget, bool autoAnswer, string? cause)
    {
        var binding = _bindings.Lookup(newTarget).FirstOrDefault();
        SipEndPoint? peer = binding is null ? null : Registrar.Registrar.EndPointOf(binding);
        if (binding is null || peer is null) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {newTarget}");
        if (call.Callee != ringing) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call was answered or moved meanwhile");
        // The same phone offered the call again (Answer by auto-answer hints) keeps its place in the call model.
        bool again = newTarget == ringing.Party;
        var replaced = ReplaceRingingLeg(what, call, c =>
        {
            if (!again) c.Callee = _model.Divert(ringing, newTarget, ConnectionState.Alerting, cause!);
            var sdp = CalleeOffer(c, peer.Value, out var endpoint);
            StartCalleeLeg(c, newTarget, binding.Contact, peer.Value, sdp, "application/sdp", c.Caller.Party, cause, autoAnswer, endpoint);
        });
        if (replaced is { } no) return no;
        return CallControlResult.Ok(again ? $"{what}: call {ringing.Call.Id} offered again with auto-answer" : $"{what}: call {ringing.Call.Id} now rings at {newTarget}");
    }

    /// <summary>
    /// Replaces the ringing leg of a call that is still ringing (in its session's turn): <paramref name="startNewLeg"/>
    /// rings the new one, then the old leg is cancelled (its 487, or a 200 that crossed the CANCEL, is handled as a
    /// replaced leg). Null on success, else the refusal.
    /// </summary>
    private static CallControlResult? ReplaceRingingLeg(string what, CallSession call, Action<CallSession> startNewLeg)
    {
        if (call.State != SessionState.Calling) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call was answered or ended meanwhile");
        var old = call.InviteB;
        startNewLeg(call);
        if (old is not null && !old.FinalResponse.IsCompleted) _ = old.CancelAsync();
        return null;
    }

}
