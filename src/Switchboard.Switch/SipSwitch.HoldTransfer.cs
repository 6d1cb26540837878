using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// Hold, Toggle, Transfer and the blind transfer of a connected call (Redirect). Holding a phone-to-phone call sends
/// the partner a <c>sendonly</c> offer (RFC 3264 §8.4) and the holding phone an <c>inactive</c> one, so the held party
/// hears nothing from the controller even from a phone that would keep sending; holding a call whose media runs
/// through the switch takes it out of the mix. Transfers end with the two parties in a mixer of the switch
/// (third-party call control, RFC 3725, re-INVITEs only for phones not yet sending to the switch).
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Toggle {device}";
        if (Precheck(what, device) is { } refused) return refused;
        var held = _model.FirstInState(device, ConnectionState.Held);
        if (held is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no held call at {device}");
        var active = _model.FirstInState(device, ConnectionState.Connected);
        if (active is not null && !await HoldAsync(active).ConfigureAwait(false))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phones did not accept holding call {active.Call.Id}");
        if (!await RetrieveAsync(held).ConfigureAwait(false))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phones did not accept retrieving call {held.Call.Id}");
        return CallControlResult.Ok(active is null ? $"{what}: retrieved call {held.Call.Id}" : $"{what}: call {active.Call.Id} held, call {held.Call.Id} active");
    }

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
        return await JoinPartnersAsync(what, device, held, active).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects the partners of a device's two calls to each other and releases the device's phone from both: the
    /// CTI Transfer, and an attended transfer (REFER with Replaces) from the phone.
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
        var call = new B2BCall(h.Theirs, null, heldPartner) { B = a.Theirs, Callee = activePartner, State = B2BState.Connected, Room = room };
        _dialogs[h.Theirs.Dialog.Key] = (call, h.Theirs);
        _dialogs[a.Theirs.Dialog.Key] = (call, a.Theirs);
        _log.LogInformation("Transfer: {Device} joined {A} and {B} in call {Call}", device, h.Theirs.Device, a.Theirs.Device, joined.Id);
        return CallControlResult.Ok($"{what}: {h.Theirs.Device} and {a.Theirs.Device} connected in call {joined.Id}");
    }

    /// <summary>
    /// Redirect of a connected call (blind transfer): the controller's phone is released at once and the target is
    /// rung; the partner waits in a mixer of the switch, which joins the target when it answers.
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
        var call = new B2BCall(legs.Theirs, null, partner) { Callee = moved, Room = room };
        _dialogs[legs.Theirs.Dialog.Key] = (call, legs.Theirs);
        var offer = CalleeOffer(call, peer.Value, out var endpoint);
        StartCalleeLeg(call, target, binding.Contact, peer.Value, offer, "application/sdp", legs.Theirs.Device, cause, autoAnswer: false, endpoint);
        call.RingTimer = Time.CreateTimer(_ => _ = OnRingTimeoutAsync(call), null, _options.RingTimeout, Timeout.InfiniteTimeSpan);
        return CallControlResult.Ok($"{what}: call {moved.Call.Id} transferred to {target}");
    }

    /// <summary>Puts a device's connected call on hold at both phones and reports it; false if a phone refused.</summary>
    private async Task<bool> HoldAsync(Connection connection)
    {
        if (LegsOf(connection) is not { } l) return false;
        if (l.Call.Room is { } room)
        {
            // Anchored: the switch simply stops mixing; the phones are not disturbed.
            room.SetHeld(true);
            _model.ChangeState(connection, ConnectionState.Held, CallEventType.Held);
            return true;
        }
        if (!await ReinviteAsync(l.Theirs, SdpText.WithDirection(l.Mine.Sdp, "sendonly"), l.Mine.Device).ConfigureAwait(false)) return false;
        if (!await ReinviteAsync(l.Mine, SdpText.WithDirection(l.Theirs.Sdp, "inactive"), l.Theirs.Device).ConfigureAwait(false)) return false;
        _model.ChangeState(connection, ConnectionState.Held, CallEventType.Held);
        return true;
    }

    /// <summary>Takes a held call back: both phones are offered each other's media in both directions again.</summary>
    private async Task<bool> RetrieveAsync(Connection connection)
    {
        if (LegsOf(connection) is not { } l) return false;
        if (l.Call.Room is { } room)
        {
            room.SetHeld(false);
            _model.ChangeState(connection, ConnectionState.Connected, CallEventType.Retrieved);
            return true;
        }
        if (!await ReinviteAsync(l.Theirs, SdpText.WithDirection(l.Mine.Sdp, "sendrecv"), l.Mine.Device).ConfigureAwait(false)) return false;
        if (!await ReinviteAsync(l.Mine, SdpText.WithDirection(l.Theirs.Sdp, "sendrecv"), l.Theirs.Device).ConfigureAwait(false)) return false;
        _model.ChangeState(connection, ConnectionState.Connected, CallEventType.Retrieved);
        return true;
    }

    /// <summary>Sends a re-INVITE with an offer on a confirmed leg and ACKs the answer; false on a non-2xx answer.</summary>
    private async Task<bool> ReinviteAsync(Leg leg, byte[] offer, string asDevice)
    {
        var contact = ContactFor(asDevice, leg.Dialog.Peer);
        var reinvite = leg.Dialog.NewRequest("INVITE", contact);
        reinvite.Add(SipHeaderNames.ContentType, "application/sdp");
        reinvite.Body = leg.Outgoing(offer);
        var r = await _layer.Send(reinvite, leg.Dialog.Peer).FinalResponse.ConfigureAwait(false);
        if (r.StatusCode is < 200 or >= 300)
        {
            _log.LogWarning("re-INVITE to {Device} answered {Code} {Reason}", leg.Device, r.StatusCode, r.Reason);
            return false;
        }
        leg.Dialog.OnResponse(r);
        if (r.Body.Length > 0) leg.Sdp = r.Body;
        await _layer.SendAckAsync(leg.Dialog.NewRequest("ACK", contact, r.CSeq.Number), leg.Dialog.Peer).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Ends a call object whose controller leaves: its dialog with the controller's phone gets a BYE; the other leg
    /// lives on elsewhere. Without <paramref name="bye"/> the dialog stays known (a phone that asked for the transfer
    /// hangs up by itself, and its BYE must find the dialog) until <see cref="ByeIfStillUp"/>.
    /// </summary>
    private void ReleaseControllerLeg(B2BCall call, Leg controller, bool bye = true)
    {
        lock (call.Gate)
        {
            call.State = B2BState.Ended;
            call.RingTimer?.Dispose();
        }
        call.Room?.Remove(controller);
        DropEndpoint(controller);
        if (bye) ByeIfStillUp(call, controller);
    }

    /// <summary>Sends BYE on a leg of an ended call object unless the phone hung up first, and forgets the dialog.</summary>
    private void ByeIfStillUp(B2BCall call, Leg controller)
    {
        _dialogs.TryRemove(controller.Dialog.Key, out _);
        lock (call.Gate)
        {
            if (controller.Ended) return;
            controller.Ended = true;
        }
        _ = _layer.Send(controller.Dialog.NewRequest("BYE", ContactFor(call.Other(controller)?.Device ?? controller.Device, controller.Dialog.Peer)), controller.Dialog.Peer);
    }

    /// <summary>The B2BUA call of a connected (or held) connection, with the leg to its own phone and the leg to the partner's.</summary>
    private (B2BCall Call, Leg Mine, Leg Theirs)? LegsOf(Connection connection)
    {
        foreach (var c in Calls)
        {
            if (c.Caller.Call != connection.Call || c.B is null || c.State != B2BState.Connected) continue;
            if (c.Room is { } room)
            {
                // Anchored two-party call: the legs are the room's members. A conference is no two-party call.
                var members = room.Members;
                if (members.Count != 2) continue;
                int mine = members[0].Connection == connection ? 0 : members[1].Connection == connection ? 1 : -1;
                if (mine >= 0) return (c, members[mine].Leg, members[1 - mine].Leg);
                continue;
            }
            if (c.A.Device == connection.Party && c.A.Confirmed && c.B.Confirmed) return (c, c.A, c.B);
            if (c.B.Device == connection.Party && c.A.Confirmed && c.B.Confirmed) return (c, c.B, c.A);
        }
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
