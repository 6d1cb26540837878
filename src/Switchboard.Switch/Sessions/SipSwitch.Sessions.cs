using System.Globalization;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Switch.Registrar;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// The B2BUA's session core: a new call becomes a <see cref="CallSession"/>; the callee's responses, in-dialog requests
/// and the release of a call run in that session's turn. Features are operations in <c>Sessions/Operations</c>.
/// </summary>
public sealed partial class SipSwitch
{
    private async Task OnNewInviteAsync(ServerTransaction txn)
    {
        var req = txn.Request;
        if (Trunks.FromSource(txn.Source) is { } trunk)
        {
            await OnTrunkInviteAsync(txn, trunk).ConfigureAwait(false);
            return;
        }
        var caller = Authenticate(txn, proxy: true, out var refusal);
        if (caller is null)
        {
            await txn.RespondAsync(refusal!).ConfigureAwait(false);
            return;
        }
        if (req.From.SipUri?.User != caller)
        {
            await txn.RespondAsync(403, $"Forbidden ({caller} may call only as itself)").ConfigureAwait(false);
            return;
        }
        if (await RefuseUnkeyedOfferAsync(txn, txn.Source, caller, reinvite: false).ConfigureAwait(false)) return;
        LearnAnswerMethod(caller, req["Allow-Events"]);
        // The keypad's number is judged as the commands' numbers are: 0-0-1-900… is 001900… (toll-fraud policy).
        var rawDialled = req.Uri is var u && SipUri.Parse(u)?.User is { } user ? user : "";
        if (!DialString.TryNormalizeUriUser(rawDialled, out var dialled, out _, out var notNumber))
        {
            OutsidePolicy.CountAttempt(caller);
            await txn.RespondAsync(404, $"Not Found (not a dialable number: {notNumber})").ConfigureAwait(false);
            return;
        }
        var kind = _dialPlan.Classify(dialled, _model.IsDevice);
        if (kind == NumberKind.Outside)
        {
            await OnOutsideInviteAsync(txn, caller, dialled).ConfigureAwait(false);
            return;
        }
        if (kind != NumberKind.Device)
        {
            await RefuseNotFoundAsync(txn, caller, dialled, "no such extension").ConfigureAwait(false);
            return;
        }
        if (dialled == caller)
        {
            await txn.RespondAsync(486, "Busy Here (calling yourself)").ConfigureAwait(false);
            return;
        }

        var legA = new Leg(SipDialog.ForIncoming(req, SipTransactionLayer.NewToken(), txn.Source), caller, LegState.Incoming) { Sdp = req.Body };
        var callerConn = _model.StartCall(caller, dialled);
        var call = new CallSession(legA, txn, callerConn);
        Register(call, legA);
        _pending[txn] = call;

        await call.RunAsync(() => OfferToExtensionAsync(call, req, dialled, TrunkRouter.DisplayName(req.From.DisplayName, caller), caller)).ConfigureAwait(false);
    }

    /// <summary>
    /// Offers a new incoming call (dialled on a phone, or arriving from a trunk) to the extension the number resolves
    /// to: do-not-disturb gives 486, forwarding to an outside number goes out through a trunk, an unregistered phone
    /// gives 480, else the phone rings until the ring timeout.
    /// </summary>
    private async Task OfferToExtensionAsync(CallSession call, SipRequest invite, string number, string display, string from)
    {
        var callerConn = call.Caller;
        var route = _model.Resolve(number);
        var cause = route.ForwardedFrom.Count > 0 ? "forwarded from " + string.Join(",", route.ForwardedFrom) : null;
        if (route.DoNotDisturb)
        {
            _model.AddParty(callerConn.Call, route.Target, ConnectionState.Failed, CallEventType.Failed, "do not disturb");
            await EndCallAsync(call, "busy", CallOutcome.Busy, finalToA: 486, reason: "Busy Here (do not disturb)").ConfigureAwait(false);
            return;
        }
        if (!_model.IsDevice(route.Target))
        {
            await ForwardOutAsync(call, route, invite.Body, invite[SipHeaderNames.ContentType], cause).ConfigureAwait(false);
            return;
        }
        var binding = _bindings.Lookup(route.Target).FirstOrDefault();
        var peer = binding is null ? null : Registrar.Registrar.EndPointOf(binding);
        if (binding is null || peer is null)
        {
            _model.AddParty(callerConn.Call, route.Target, ConnectionState.Failed, CallEventType.Failed, "not registered");
            await EndCallAsync(call, "unreachable", CallOutcome.Failed, finalToA: 480, reason: $"Temporarily Unavailable ({route.Target} is not registered)").ConfigureAwait(false);
            return;
        }

        SwitchLog.CallRouted(_log, callerConn.Call.Id, from, route.Target, cause);
        var offer = OfferForCallee(call, peer.Value, PhoneFlow.Of(binding)?.NatDetected == true, calleeIsTrunk: false, out var endpointB);
        if (call.State != SessionState.Calling)
        {
            // Only on a session created but not yet started (the CANCEL waits for the turn, so it cannot be this one).
            if (endpointB is not null) await endpointB.DisposeAsync().ConfigureAwait(false);
            DropEndpoint(call.A);
            if (call.Room is { } room) await room.Mixer.DisposeAsync().ConfigureAwait(false);
            return;
        }
        StartCalleeLeg(call, route.Target, binding.Contact, peer.Value, offer, endpointB is null ? invite[SipHeaderNames.ContentType] : "application/sdp",
            display, cause, autoAnswer: false, endpointB);
        StartRingTimer(call);
    }

    /// <summary>
    /// Calls the callee's phone on a new leg B with the caller's media (used for calls from phones, MakeCall, Redirect
    /// and Pickup). Responses of a leg that has since been replaced are ignored, or released if they answer.
    /// </summary>
    private void StartCalleeLeg(CallSession call, string target, string contact, SipEndPoint peer, byte[] sdp, string? contentType, string display,
        string? cause, bool autoAnswer, Media.RtpEndpoint? endpoint = null)
    {
        var caller = call.Caller.Party;
        var legB = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
            $"sip:{caller}@{DomainFor(peer)}", $"sip:{target}@{DomainFor(peer)}", contact, peer, display), target, LegState.Calling);
        legB.Endpoint = endpoint;
        call.B = legB;
        Register(call, legB);
        var invite = legB.Dialog.NewRequest("INVITE", ContactFor(caller, peer));
        if (autoAnswer)
        {
            invite.Add("Call-Info", $"<sip:{DomainFor(peer)}>;answer-after=0");
            invite.Add("Alert-Info", $"<http://{HostFor(peer)}/autoanswer>;info=alert-autoanswer");
        }
        if (endpoint is not null) sdp = SrtpOffer(endpoint, peer, target, sdp);
        if (sdp.Length > 0)
        {
            invite.Add(SipHeaderNames.ContentType, contentType ?? "application/sdp");
            invite.Body = legB.Outgoing(sdp);
        }
        var inviteB = _layer.Send(invite, peer, t =>
        {
            call.InviteB = t;
            t.Provisional += r => _ = call.RunAsync(() => OnCalleeProvisionalAsync(call, legB, r, cause));
            t.AdditionalSuccess += r => _ = OnStrayResponseAsync(r, peer);
        });
        _ = inviteB.FinalResponse.ContinueWith(t => call.RunAsync(() => OnCalleeFinalAsync(call, legB, t.Result, cause)), TaskScheduler.Default).Unwrap();
    }

    private async Task OnCalleeProvisionalAsync(CallSession call, Leg leg, SipResponse r, string? cause)
    {
        if (r.StatusCode == 100) return;
        LearnAnswerMethod(leg.Device, r["Allow-Events"]);
        if (call.State != SessionState.Calling || call.B != leg) return;
        leg.Dialog.OnResponse(r);
        if (r.To.Tag is not null && leg.State == LegState.Calling) leg.State = LegState.Early;
        call.Callee ??= _model.AddParty(call.Caller.Call, leg.Device, ConnectionState.Alerting, CallEventType.Delivered, cause);
        if (call.InviteA is null) return;
        var toA = SipResponse.For(call.InviteA!.Request, r.StatusCode is 180 or 183 ? r.StatusCode : 180, toTag: call.A.Dialog.LocalTag);
        toA.Add(SipHeaderNames.Contact, ContactFor(call.B!.Device, call.A.Dialog.Peer));
        // Early media of an anchored call would tell the caller the callee's address; the switch has none to play.
        if (r.Body.Length > 0 && r.StatusCode == 183 && call.Room is null)
        {
            toA.Add(SipHeaderNames.ContentType, r[SipHeaderNames.ContentType] ?? "application/sdp");
            toA.Body = call.A.Outgoing(r.Body);
        }
        if (call.A.State == LegState.Incoming) call.A.State = LegState.Early;
        await call.InviteA.RespondAsync(toA).ConfigureAwait(false);
    }

    private async Task OnCalleeFinalAsync(CallSession call, Leg b, SipResponse r, string? cause)
    {
        if (call.B != b)
        {
            // A leg replaced by Redirect or Pickup: its 487 is expected; a 200 that crossed our CANCEL is released.
            if (r.StatusCode is >= 200 and < 300)
            {
                b.Dialog.OnResponse(r);
                await _layer.SendAckAsync(b.Dialog.NewRequest("ACK", ContactFor(call.Caller.Party, b.Dialog.Peer), r.CSeq.Number), b.Dialog.Peer).ConfigureAwait(false);
                _ = _layer.Send(b.Dialog.NewRequest("BYE", ContactFor(call.Caller.Party, b.Dialog.Peer)), b.Dialog.Peer);
            }
            _dialogs.TryRemove(b.Dialog.Key, out _);
            b.State = LegState.Disconnected;
            DropEndpoint(b);
            return;
        }
        if (r.StatusCode is >= 200 and < 300)
        {
            b.Dialog.OnResponse(r);
            b.Sdp = r.Body;
            b.State = LegState.Confirmed;
            await _layer.SendAckAsync(b.Dialog.NewRequest("ACK", ContactFor(call.Caller.Party, b.Dialog.Peer), cseq: r.CSeq.Number), b.Dialog.Peer).ConfigureAwait(false);
            if (call.State != SessionState.Calling)
            {
                // The caller cancelled while the callee answered (CANCEL crossed the 200): release the callee.
                if (b.TryEnd()) _ = _layer.Send(b.Dialog.NewRequest("BYE", ContactFor(call.Caller.Party, b.Dialog.Peer)), b.Dialog.Peer);
                _dialogs.TryRemove(b.Dialog.Key, out _);
                return;
            }
            // From here to the end of this turn the call is connected; a BYE of either phone waits for the turn, so it
            // finds the call whole (both in the mixer, the caller answered) and ends it.
            call.State = SessionState.Connected;
            call.RingTimer?.Dispose();
            call.Callee ??= _model.AddParty(call.Caller.Call, b.Device, ConnectionState.Alerting, CallEventType.Delivered, cause);
            if (call.InviteA is null)
            {
                await ConnectThirdPartyAsync(call, r).ConfigureAwait(false);
                return;
            }
            _pending.TryRemove(call.InviteA, out _);
            if (call.Room is { } anchored && !JoinAnchored(call, anchored, b, r))
            {
                NetLog.AnchoredAnswerUnusable(_log, call.Caller.Call.Id, b.Device);
                await EndCallAsync(call, "no usable media", CallOutcome.Failed, finalToA: 488, reason: "Not Acceptable Here (no G.711 audio)").ConfigureAwait(false);
                return;
            }
            _model.Establish(call.Callee!);
            var ok = SipResponse.For(call.InviteA.Request, 200, toTag: call.A.Dialog.LocalTag);
            ok.Add(SipHeaderNames.Contact, ContactFor(b.Device, call.A.Dialog.Peer));
            ok.Add(SipHeaderNames.Allow, AllowedMethods);
            if (call.Room is not null)
            {
                ok.Add(SipHeaderNames.ContentType, "application/sdp");
                ok.Body = call.A.Outgoing(AnswerFromSwitch(call.A));
            }
            else if (r.Body.Length > 0)
            {
                ok.Add(SipHeaderNames.ContentType, r[SipHeaderNames.ContentType] ?? "application/sdp");
                ok.Body = call.A.Outgoing(r.Body);
            }
            call.InviteA.AckTimeout += _ => call.RunAsync(() => EndCallAsync(call, "no ACK from caller", CallOutcome.Failed)).ContinueWith(_ => { }, TaskScheduler.Default);
            call.A.State = LegState.Connecting;
            await call.InviteA.RespondAsync(ok).ConfigureAwait(false);
            SwitchLog.Answered(_log, call.Caller.Call.Id, b.Device);
            return;
        }

        b.State = LegState.Disconnected;
        if (call.State != SessionState.Calling) return;
        var (code, reason, outcome) = r.StatusCode switch
        {
            486 or 600 => (486, "Busy Here", CallOutcome.Busy),
            603 => (603, "Decline", CallOutcome.Rejected),
            487 => (480, "Temporarily Unavailable (no answer)", CallOutcome.NoAnswer),
            408 => (480, $"Temporarily Unavailable ({b.Device} did not respond)", CallOutcome.Failed),
            _ => (r.StatusCode >= 500 ? 480 : r.StatusCode, r.StatusCode >= 500 ? "Temporarily Unavailable" : r.Reason, CallOutcome.Failed),
        };
        var conn = call.Callee ?? _model.AddParty(call.Caller.Call, b.Device, ConnectionState.Alerting, CallEventType.Delivered, cause);
        call.Callee = conn;
        SwitchLog.CalleeRefused(_log, call.Caller.Call.Id, b.Device, r.StatusCode, r.Reason);
        await EndCallAsync(call, r.StatusCode + " " + r.Reason, outcome, finalToA: code, reason: reason, failed: conn).ConfigureAwait(false);
    }

    /// <summary>Starts the no-answer timer of a ringing call; it fires into the session's turn.</summary>
    private void StartRingTimer(CallSession call) =>
        call.RingTimer ??= Time.CreateTimer(_ => _ = call.RunAsync(() => OnRingTimeoutAsync(call)), null, _options.RingTimeout, Timeout.InfiniteTimeSpan);

    /// <summary>Makes a leg's dialog lead to its session; its connection (if any) leads there through its tag.</summary>
    private void Register(CallSession call, Leg leg) => _dialogs[leg.Dialog.Key] = (call, leg);

    /// <summary>The session a connection of the call model belongs to (null when it is not, or no longer, on this switch).</summary>
    private static CallSession? SessionOf(Connection? connection) => connection?.Tag as CallSession;

    private async Task OnRingTimeoutAsync(CallSession call)
    {
        if (call.State != SessionState.Calling) return;
        SwitchLog.NoAnswer(_log, call.Caller.Call.Id, call.B?.Device, _options.RingTimeout);
        await EndCallAsync(call, "no answer", CallOutcome.NoAnswer, finalToA: 480, reason: "Temporarily Unavailable (no answer)").ConfigureAwait(false);
    }

    /// <summary>
    /// Releases a call in whatever state it is: CANCEL or BYE towards the callee, the final response or BYE towards
    /// the caller, and the call model cleared.
    /// </summary>
    internal async Task EndCallAsync(CallSession call, string cause, CallOutcome outcome, int finalToA = 487, string? reason = null,
        Connection? failed = null, Leg? byeFrom = null)
    {
        var was = call.State;
        if (was == SessionState.Ended) return;
        call.State = SessionState.Ended;
        call.RingTimer?.Dispose();
        if (call.InviteA is not null) _pending.TryRemove(call.InviteA, out _);
        if (was == SessionState.Calling)
        {
            if (call.InviteB is { } inviteB && !inviteB.FinalResponse.IsCompleted) _ = inviteB.CancelAsync();
            foreach (var g in call.GroupInvites) if (!g.FinalResponse.IsCompleted) _ = g.CancelAsync();
            if (call.InviteA is not null)
            {
                await call.InviteA.RespondAsync(SipResponse.For(call.InviteA.Request, finalToA, reason, call.A.Dialog.LocalTag)).ConfigureAwait(false);
            }
            else if (call.A.Confirmed && call.A.TryEnd())
            {
                // MakeCall: the caller's phone already answered; release it.
                _ = _layer.Send(call.A.Dialog.NewRequest("BYE", ContactFor(call.B?.Device ?? call.A.Device, call.A.Dialog.Peer)), call.A.Dialog.Peer);
            }
            else if (call.InviteAOut is { } outA && !outA.FinalResponse.IsCompleted)
            {
                _ = outA.CancelAsync();
            }
        }
        else
        {
            foreach (var leg in new[] { call.A, call.B })
            {
                if (leg is null || leg == byeFrom || !leg.TryEnd()) continue;
                var other = call.Other(leg);
                _ = _layer.Send(leg.Dialog.NewRequest("BYE", ContactFor(other?.Device ?? leg.Device, leg.Dialog.Peer)), leg.Dialog.Peer);
            }
        }
        _dialogs.TryRemove(call.A.Dialog.Key, out _);
        if (call.B is { } b) _dialogs.TryRemove(b.Dialog.Key, out _);
        if (failed is not null) _model.Fail(failed, cause, outcome);
        else _model.EndCall(call.Caller.Call, cause, outcome);
        // Anchored media: a conference's third phone gets its BYE here, and every endpoint and the mixer close.
        if (call.Room is { } room) await CloseRoomAsync(call, room).ConfigureAwait(false);
        DropEndpoint(call.A);
        if (call.B is not null) DropEndpoint(call.B);
    }

    private async Task OnInDialogRequestAsync(ServerTransaction txn)
    {
        var req = txn.Request;
        var key = SipDialog.KeyOf(req.CallId, req.To.Tag);
        // A transfer or conference moves a leg to a new session while this request waits for the old one's turn:
        // the request then goes to the session that owns the leg now.
        for (int moved = 0; moved < 4; moved++)
        {
            if (!_dialogs.TryGetValue(key, out var d))
            {
                await txn.RespondAsync(481).ConfigureAwait(false);
                return;
            }
            // Glare (RFC 3261 §14.2): the phone offers while the switch's own re-INVITE to it waits for an answer.
            // Answered at once, outside the turn: the turn is held by that re-INVITE, which the phone answers 491 too.
            if (req.Method == "INVITE" && d.Leg.OfferAnswer == OfferAnswerState.LocalOffer)
            {
                await txn.RespondAsync(491).ConfigureAwait(false);
                return;
            }
            // RFC 3261 §14.2: a second offer of the phone while its first is still being answered (relayed to the other
            // phone, which has not answered yet) gets 500 with a Retry-After of 0 to 10 s, not a place in the queue.
            if (req.Method == "INVITE" && d.Leg.OfferAnswer == OfferAnswerState.RemoteOffer)
            {
                var wait = Random.Shared.Next(0, 11);
                var pending = SipResponse.For(req, 500, "Server Internal Error (the previous re-INVITE is still being answered)");
                pending.Add("Retry-After", wait.ToString(CultureInfo.InvariantCulture));
                SwitchLog.ReinviteWhilePending(_log, d.Call.Caller.Call.Id, d.Leg.Device, wait);
                await txn.RespondAsync(pending).ConfigureAwait(false);
                return;
            }
            var handled = await d.Call.RunAsync(async () =>
            {
                if (!_dialogs.TryGetValue(key, out var now) || now.Call != d.Call) return false;
                await OnSessionRequestAsync(txn, d.Call, d.Leg).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
            if (handled) return;
        }
        await txn.RespondAsync(500, "Server Internal Error (the call is being rearranged; retry)").ConfigureAwait(false);
    }

    /// <summary>An in-dialog request of a leg, in its session's turn.</summary>
    private async Task OnSessionRequestAsync(ServerTransaction txn, CallSession call, Leg leg)
    {
        var req = txn.Request;
        if (!leg.Dialog.OnRequest(req))
        {
            await txn.RespondAsync(500, "Server Internal Error (CSeq out of order)").ConfigureAwait(false);
            return;
        }
        if (call.Room is { } room && call.State == SessionState.Connected)
        {
            await OnRoomRequestAsync(txn, call, room, leg).ConfigureAwait(false);
            return;
        }
        var other = call.Other(leg);
        switch (req.Method)
        {
            case "BYE":
                await txn.RespondAsync(200).ConfigureAwait(false);
                leg.TryEnd();
                // The phone of a controller that has left (transfer) hangs up its own side: nothing else ends.
                if (call.State == SessionState.Ended)
                {
                    _dialogs.TryRemove(leg.Dialog.Key, out _);
                    return;
                }
                var byConn = call.ConnectionOf(leg);
                SwitchLog.HungUp(_log, call.Caller.Call.Id, leg.Device);
                // A BYE before the 200 was ACKed still releases both legs; for MakeCall, a caller who hangs up
                // while the destination rings leaves the call Calling, so the destination is cancelled.
                if (call.State == SessionState.Calling && !call.IsThirdParty) call.State = SessionState.Connected;
                if (byConn is not null) _model.Clear(byConn, "hung up");
                await EndCallAsync(call, "hung up", CallOutcome.Completed, byeFrom: leg).ConfigureAwait(false);
                return;
            case "ACK":
                return;
            case "REFER":
                await OnReferAsync(txn, call, leg).ConfigureAwait(false);
                return;
        }
        if (other is null || !other.Confirmed || call.State != SessionState.Connected)
        {
            await txn.RespondAsync(req.Method == "INVITE" ? 491 : 481).ConfigureAwait(false);
            return;
        }
        if (req.Method is "INVITE" or "UPDATE" && IsSdp(req[SipHeaderNames.ContentType])
            && await RefuseUnkeyedOfferAsync(txn, leg.Dialog.Peer, leg.Device, reinvite: true).ConfigureAwait(false)) return;
        // Relay the request (re-INVITE for hold/resume, INFO for DTMF, UPDATE …) to the other phone and its answer back.
        var relay = other.Dialog.NewRequest(req.Method, ContactFor(leg.Device, other.Dialog.Peer));
        if (req[SipHeaderNames.ContentType] is { } ct) relay.Add(SipHeaderNames.ContentType, ct);
        foreach (var h in new[] { "Event", "Subscription-State", "Session-Expires" })
            if (req[h] is { } v) relay.Add(h, v);
        relay.Body = IsSdp(req[SipHeaderNames.ContentType]) ? other.Outgoing(req.Body) : req.Body;
        bool offer = req.Method == "INVITE";
        if (offer)
        {
            leg.OfferAnswer = OfferAnswerState.RemoteOffer;
            other.OfferAnswer = OfferAnswerState.LocalOffer;
        }
        SipResponse answer;
        try
        {
            answer = await _layer.Send(relay, other.Dialog.Peer).FinalResponse.ConfigureAwait(false);
        }
        finally
        {
            if (offer) leg.OfferAnswer = other.OfferAnswer = OfferAnswerState.Stable;
        }
        if (offer && answer.StatusCode is >= 200 and < 300)
        {
            other.Dialog.OnResponse(answer);
            await _layer.SendAckAsync(other.Dialog.NewRequest("ACK", ContactFor(leg.Device, other.Dialog.Peer), relay.CSeq.Number), other.Dialog.Peer).ConfigureAwait(false);
            if (req.Body.Length > 0) leg.Sdp = req.Body;
            if (answer.Body.Length > 0) other.Sdp = answer.Body;
            NotePhoneHold(call, leg, req.Body);
        }
        var back = SipResponse.For(req, answer.StatusCode == 408 ? 408 : answer.StatusCode, answer.Reason);
        if (offer) back.Add(SipHeaderNames.Contact, ContactFor(other.Device, leg.Dialog.Peer));
        if (answer[SipHeaderNames.ContentType] is { } act) back.Add(SipHeaderNames.ContentType, act);
        back.Body = IsSdp(answer[SipHeaderNames.ContentType]) ? leg.Outgoing(answer.Body) : answer.Body;
        await txn.RespondAsync(back).ConfigureAwait(false);
    }

    private static bool IsSdp(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase);
}
