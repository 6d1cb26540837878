using Switchboard.Sip.Messages;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>What became of an attempt to hold or retrieve a call.</summary>
internal enum HoldOutcome
{
    /// <summary>Held (or retrieved) as asked, or it already was.</summary>
    Done,
    /// <summary>A phone refused the re-INVITE (non-2xx); the call stays as it was.</summary>
    Refused,
    /// <summary>The phone answered the switch's sendrecv offer with sendonly or inactive: it keeps the call on hold itself.</summary>
    PhoneKeepsHold,
    /// <summary>The call is not a connected two-party call on this switch (any more).</summary>
    Gone,
}

/// <summary>
/// Hold, Retrieve and Toggle. Holding a phone-to-phone call sends the partner a <c>sendonly</c> offer (RFC 3264 §8.4)
/// and the holding phone an <c>inactive</c> one, so the held party hears nothing from the controller even from a phone
/// that would keep sending; holding a call whose media runs through the switch takes it out of the mix. The state the
/// call model shows is what the phones answered: a phone that answers a <c>sendrecv</c> offer with <c>sendonly</c>
/// (its user pressed its hold key) keeps the call held, and the reply says so.
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
        // A call the phone holds by its own key is asked back first: if the phone keeps it on hold, the active call
        // is left alone rather than both ending up held.
        bool phoneHolds = SessionOf(held) is { } s && LegsOf(held) is { } l && l.Mine.PhoneHolds && s.State == SessionState.Connected;
        if (phoneHolds)
        {
            var back = await RetrieveInTurnAsync(held).ConfigureAwait(false);
            if (back != HoldOutcome.Done) return HoldRefusal(what, held, back, retrieving: true);
            if (active is not null && await HoldInTurnAsync(active).ConfigureAwait(false) is var h && h != HoldOutcome.Done)
                return HoldRefusal(what, active, h, retrieving: false);
        }
        else
        {
            if (active is not null && await HoldInTurnAsync(active).ConfigureAwait(false) is var h && h != HoldOutcome.Done)
                return HoldRefusal(what, active, h, retrieving: false);
            var back = await RetrieveInTurnAsync(held).ConfigureAwait(false);
            if (back != HoldOutcome.Done) return HoldRefusal(what, held, back, retrieving: true);
        }
        return CallControlResult.Ok(active is null ? $"{what}: retrieved call {held.Call.Id}" : $"{what}: call {active.Call.Id} held, call {held.Call.Id} active");
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> HoldAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Hold {device}";
        if (Precheck(what, device) is { } refused) return refused;
        if (_model.FirstInState(device, ConnectionState.Connected) is not { } active)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no connected call at {device}");
        var outcome = await HoldInTurnAsync(active).ConfigureAwait(false);
        return outcome == HoldOutcome.Done ? CallControlResult.Ok($"{what}: call {active.Call.Id} held") : HoldRefusal(what, active, outcome, retrieving: false);
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> RetrieveAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Retrieve {device}";
        if (Precheck(what, device) is { } refused) return refused;
        if (_model.FirstInState(device, ConnectionState.Held) is not { } held)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no held call at {device}");
        if (_model.FirstInState(device, ConnectionState.Connected) is { } active)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: call {active.Call.Id} is active at {device} (Toggle swaps the two)");
        var outcome = await RetrieveInTurnAsync(held).ConfigureAwait(false);
        return outcome == HoldOutcome.Done ? CallControlResult.Ok($"{what}: retrieved call {held.Call.Id}") : HoldRefusal(what, held, outcome, retrieving: true);
    }

    private static CallControlResult HoldRefusal(string what, Connection connection, HoldOutcome outcome, bool retrieving) => outcome switch
    {
        HoldOutcome.PhoneKeepsHold => CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phone keeps call {connection.Call.Id} on hold"),
        HoldOutcome.Gone => CallControlResult.Fail(ReplyCode.WrongState, $"{what}: call {connection.Call.Id} is not a connected two-party call on this switch"),
        _ => CallControlResult.Fail(ReplyCode.WrongState,
            $"{what}: the phones did not accept {(retrieving ? "retrieving" : "holding")} call {connection.Call.Id}"),
    };

    /// <summary>Holds a connection's call in its session's turn.</summary>
    private Task<HoldOutcome> HoldInTurnAsync(Connection connection) =>
        SessionOf(connection) is { } call ? call.RunAsync(() => HoldCallAsync(connection)) : Task.FromResult(HoldOutcome.Gone);

    /// <summary>Retrieves a connection's call in its session's turn.</summary>
    private Task<HoldOutcome> RetrieveInTurnAsync(Connection connection) =>
        SessionOf(connection) is { } call ? call.RunAsync(() => RetrieveCallAsync(connection)) : Task.FromResult(HoldOutcome.Gone);

    /// <summary>Puts a device's connected call on hold at both phones and reports it (in the session's turn).</summary>
    private async Task<HoldOutcome> HoldCallAsync(Connection connection)
    {
        if (connection.State == ConnectionState.Held) return HoldOutcome.Done;
        if (LegsOf(connection) is not { } l) return HoldOutcome.Gone;
        if (l.Call.Room is { } room)
        {
            // Anchored: the switch simply stops mixing; the phones are not disturbed.
            room.SetHeld(true);
            _model.ChangeState(connection, ConnectionState.Held, CallEventType.Held);
            return HoldOutcome.Done;
        }
        if (!await ReinviteAsync(l.Theirs, SdpText.WithDirection(l.Mine.Sdp, "sendonly"), l.Mine.Device).ConfigureAwait(false)) return HoldOutcome.Refused;
        if (!await ReinviteAsync(l.Mine, SdpText.WithDirection(l.Theirs.Sdp, "inactive"), l.Theirs.Device).ConfigureAwait(false)) return HoldOutcome.Refused;
        _model.ChangeState(connection, ConnectionState.Held, CallEventType.Held);
        return HoldOutcome.Done;
    }

    /// <summary>
    /// Takes a held call back (in the session's turn). The holding phone is offered the partner's media in both
    /// directions first; only if it answers sending again is the partner offered it too, and the call is connected.
    /// </summary>
    private async Task<HoldOutcome> RetrieveCallAsync(Connection connection)
    {
        if (connection.State == ConnectionState.Connected) return HoldOutcome.Done;
        if (LegsOf(connection) is not { } l) return HoldOutcome.Gone;
        if (l.Call.Room is { } room)
        {
            // The switch's mixer has no offer to make: the phone's own last offer tells whether it still holds.
            if (l.Mine.PhoneHolds) return HoldOutcome.PhoneKeepsHold;
            room.SetHeld(false);
            _model.ChangeState(connection, ConnectionState.Connected, CallEventType.Retrieved);
            return HoldOutcome.Done;
        }
        if (!await ReinviteAsync(l.Mine, SdpText.WithDirection(l.Theirs.Sdp, "sendrecv"), l.Theirs.Device).ConfigureAwait(false)) return HoldOutcome.Refused;
        if (l.Mine.PhoneHolds)
        {
            SwitchLog.PhoneKeepsHold(_log, connection.Call.Id, l.Mine.Device, SdpText.DirectionOf(l.Mine.Sdp));
            return HoldOutcome.PhoneKeepsHold;
        }
        if (!await ReinviteAsync(l.Theirs, SdpText.WithDirection(l.Mine.Sdp, "sendrecv"), l.Mine.Device).ConfigureAwait(false)) return HoldOutcome.Refused;
        _model.ChangeState(connection, ConnectionState.Connected, CallEventType.Retrieved);
        return HoldOutcome.Done;
    }

    /// <summary>
    /// Sends a re-INVITE with an offer on a confirmed leg and ACKs the answer; false on a non-2xx answer. A 491 (the
    /// phone offered at the same time) is retried after the random wait of RFC 3261 §14.1: 2.1–4 s when the switch
    /// chose the dialog's Call-ID, else 0–2 s.
    /// </summary>
    private async Task<bool> ReinviteAsync(Leg leg, byte[] offer, string asDevice)
    {
        var contact = ContactFor(asDevice, leg.Dialog.Peer);
        for (int attempt = 0; ; attempt++)
        {
            var reinvite = leg.Dialog.NewRequest("INVITE", contact);
            reinvite.Add(SipHeaderNames.ContentType, "application/sdp");
            reinvite.Body = leg.Outgoing(offer);
            SipResponse r;
            leg.OfferAnswer = OfferAnswerState.LocalOffer;
            try
            {
                r = await _layer.Send(reinvite, leg.Dialog.Peer).FinalResponse.ConfigureAwait(false);
            }
            finally
            {
                leg.OfferAnswer = OfferAnswerState.Stable;
            }
            if (r.StatusCode == 491 && attempt < 2 && !leg.Ended)
            {
                var wait = leg.OwnsCallId ? TimeSpan.FromMilliseconds(Random.Shared.Next(2100, 4001)) : TimeSpan.FromMilliseconds(Random.Shared.Next(0, 2001));
                SwitchLog.Glare(_log, leg.Device, wait);
                await Task.Delay(wait, Time).ConfigureAwait(false);
                continue;
            }
            if (r.StatusCode is < 200 or >= 300)
            {
                SwitchLog.ReinviteRefused(_log, leg.Device, r.StatusCode, r.Reason);
                return false;
            }
            leg.Dialog.OnResponse(r);
            if (r.Body.Length > 0) leg.Sdp = r.Body;
            await _layer.SendAckAsync(leg.Dialog.NewRequest("ACK", contact, r.CSeq.Number), leg.Dialog.Peer).ConfigureAwait(false);
            return true;
        }
    }
}
