using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// Transfer and the blind transfer of a connected call (Redirect). Transfers end with the two parties in a mixer of
/// the switch (third-party call control, RFC 3725, re-INVITEs only for phones not yet sending to the switch), in a
/// new session; the controller's sessions end.
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Transfer {device}";
        if (Precheck(what, device) is { } refused) return refused;
        var held = _model.FirstInState(device, ConnectionState.Held);
        var active = _model.FirstInState(device, ConnectionState.Connected);
        if (held is null || active is null)
        {
            return _model.FirstInState(device, ConnectionState.Initiated) is not null && held is not null
                ? CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the consultation call is not answered yet (transfer on ringing is not supported on SIP phones)")
                : CallControlResult.Fail(ReplyCode.WrongState, $"{what}: needs a connected and a held call at {device}");
        }
        if (SessionOf(held) is not { } hs || SessionOf(active) is not { } acs)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the calls are not connected on this switch");
        return await CallSession.RunBothAsync(hs, acs, () => JoinPartnersAsync(what, device, held, active)).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects the partners of a device's two calls to each other and releases the device's phone from both: the
    /// CTI Transfer, and an attended transfer (REFER with Replaces) from the phone. Runs owning both calls' sessions.
    /// </summary>
    private async Task<CallControlResult> JoinPartnersAsync(string what, string device, Connection held, Connection active, bool byeController = true)
    {
        if (LegsOf(held) is not { } h || LegsOf(active) is not { } a)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the calls are not connected on this switch");

        var heldPartner = _model.PartnersOf(held).FirstOrDefault(p => p.Party == h.Theirs.Device);
        var activePartner = _model.PartnersOf(active).FirstOrDefault(p => p.Party == a.Theirs.Device);
        if (heldPartner is null || activePartner is null)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: a partner left meanwhile");
        // The two far parties meet in a new mixer of the switch: a phone still talking phone to phone is re-INVITEd
        // to an endpoint first, an anchored one notices nothing. Joining them phone to phone instead would hand each
        // phone a new RTP stream whose sequence numbers may lie behind the old one, which some phones (baresip 1.0)
        // then drop as late for minutes; the switch's streams open with sequence probes that every phone accepts.
        if (!await AnchorAsync(h.Theirs).ConfigureAwait(false) || !await AnchorAsync(a.Theirs).ConfigureAwait(false))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: a phone refused the switch's media; the calls stay as they were");
        await LeaveRoomsAsync(h.Call, a.Call).ConfigureAwait(false);
        var room = new ConferenceRoom(Media.CreateConference());
        room.Add(h.Theirs, h.Theirs.Endpoint!, heldPartner);
        room.Add(a.Theirs, a.Theirs.Endpoint!, activePartner);
        ReleaseControllerLeg(h.Call, h.Mine, byeController);
        ReleaseControllerLeg(a.Call, a.Mine, byeController);
        var joined = _model.Transfer(active, held);
        var call = new CallSession(h.Theirs, null, heldPartner) { B = a.Theirs, Callee = activePartner, State = SessionState.Connected, Room = room };
        Register(call, h.Theirs);
        Register(call, a.Theirs);
        SwitchLog.Transferred(_log, joined.Id, device, h.Theirs.Device, a.Theirs.Device);
        return CallControlResult.Ok($"{what}: {h.Theirs.Device} and {a.Theirs.Device} connected in call {joined.Id}");
    }

    /// <summary>
    /// Redirect of a connected call (blind transfer): the controller's phone is released at once and the target is
    /// rung; the partner waits in a mixer of the switch, which joins the target when it answers. Runs in the turn of
    /// the connected call's session; the partner and the target get a new session.
    /// </summary>
    private async Task<CallControlResult> TransferConnected(string what, Connection connected, string target, string cause, bool byeController = true)
    {
        if (!_model.IsDevice(target))
            return CallControlResult.Fail(ReplyCode.NotImplemented, $"{what}: a connected call can be transferred to extensions only (not yet through a trunk)");
        if (LegsOf(connected) is not { } legs) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call is not connected on this switch");
        var binding = _bindings.Lookup(target).FirstOrDefault();
        SipEndPoint? peer = binding is null ? null : Registrar.Registrar.EndPointOf(binding);
        if (binding is null || peer is null) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {target}");
        var partner = _model.PartnersOf(connected).FirstOrDefault(p => p.Party == legs.Theirs.Device);
        if (partner is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the partner left meanwhile");

        // The partner waits, hearing silence, in a new mixer for the target (re-INVITEd to an endpoint first if its
        // call ran phone to phone), so the target's answer never has to be carried to the partner's phone.
        if (!await AnchorAsync(legs.Theirs).ConfigureAwait(false))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: {legs.Theirs.Device}'s phone refused the switch's media; the call stays as it was");
        await LeaveRoomsAsync(legs.Call).ConfigureAwait(false);
        var room = new ConferenceRoom(Media.CreateConference());
        room.Add(legs.Theirs, legs.Theirs.Endpoint!, partner);
        ReleaseControllerLeg(legs.Call, legs.Mine, byeController);
        var moved = _model.Divert(connected, target, ConnectionState.Alerting, cause);
        var call = new CallSession(legs.Theirs, null, partner) { Callee = moved, Room = room };
        // The new session is nobody else's yet: taking its turn inside this one cannot wait on anything.
        await call.RunAsync(() =>
        {
            Register(call, legs.Theirs);
            var offer = CalleeOffer(call, peer.Value, out var endpoint);
            StartCalleeLeg(call, target, binding.Contact, peer.Value, offer, "application/sdp", legs.Theirs.Device, cause, autoAnswer: false, endpoint);
            StartRingTimer(call);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        return CallControlResult.Ok($"{what}: call {moved.Call.Id} transferred to {target}");
    }

    /// <summary>
    /// Ends a call object whose controller leaves: its dialog with the controller's phone gets a BYE; the other leg
    /// lives on elsewhere. Without <paramref name="bye"/> the dialog stays known (a phone that asked for the transfer
    /// hangs up by itself, and its BYE must find the dialog) until <see cref="ByeIfStillUp"/>.
    /// </summary>
    private void ReleaseControllerLeg(CallSession call, Leg controller, bool bye = true)
    {
        call.State = SessionState.Ended;
        call.RingTimer?.Dispose();
        call.Room?.Remove(controller);
        DropEndpoint(controller);
        if (bye) ByeIfStillUp(call, controller);
    }

    /// <summary>Sends BYE on a leg of an ended call object unless the phone hung up first, and forgets the dialog.</summary>
    private void ByeIfStillUp(CallSession call, Leg controller)
    {
        _dialogs.TryRemove(controller.Dialog.Key, out _);
        if (!controller.TryEnd()) return;
        _ = _layer.Send(controller.Dialog.NewRequest("BYE", ContactFor(call.Other(controller)?.Device ?? controller.Device, controller.Dialog.Peer)), controller.Dialog.Peer);
    }

    /// <summary>The B2BUA call of a connected (or held) connection, with the leg to its own phone and the leg to the partner's.</summary>
    private static (CallSession Call, Leg Mine, Leg Theirs)? LegsOf(Connection connection)
    {
        if (SessionOf(connection) is not { } c || c.B is null || c.State != SessionState.Connected) return null;
        if (c.Room is { } room)
        {
            // Anchored two-party call: the legs are the room's members. A conference is no two-party call.
            var members = room.Members;
            if (members.Count != 2) return null;
            int mine = members[0].Connection == connection ? 0 : members[1].Connection == connection ? 1 : -1;
            return mine >= 0 ? (c, members[mine].Leg, members[1 - mine].Leg) : null;
        }
        if (!c.A.Confirmed || !c.B.Confirmed) return null;
        if (connection == c.Caller) return (c, c.A, c.B);
        if (connection == c.Callee) return (c, c.B, c.A);
        return null;
    }

    /// <summary>The common refusals: unknown device, no phone registered.</summary>
    private CallControlResult? Precheck(string what, string device)
    {
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (!_model.IsReachable(device)) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {device}");
        return null;
    }
}
