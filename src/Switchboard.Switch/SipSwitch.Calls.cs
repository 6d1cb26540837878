using Microsoft.Extensions.Logging;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Registrar;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>The B2BUA part: new calls, responses from the callee, in-dialog requests, and releasing calls.</summary>
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

        var legA = new Leg(SipDialog.ForIncoming(req, SipTransactionLayer.NewToken(), txn.Source), caller) { Sdp = req.Body };
        var callerConn = _model.StartCall(caller, dialled);
        var call = new B2BCall(legA, txn, callerConn);
        _dialogs[legA.Dialog.Key] = (call, legA);
        _pending[txn] = call;

        await OfferToExtensionAsync(call, req, dialled, TrunkRouter.DisplayName(req.From.DisplayName, caller), caller).ConfigureAwait(false);
    }

    /// <summary>
    /// Offers a new incoming call (dialled on a phone, or arriving from a trunk) to the extension the number resolves
    /// to: do-not-disturb gives 486, forwarding to an outside number goes out through a trunk, an unregistered phone
    /// gives 480, else the phone rings until the ring timeout.
    /// </summary>
    private async Task OfferToExtensionAsync(B2BCall call, SipRequest invite, string number, string display, string from)
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

        _log.LogInformation("Call {Call}: {Caller} -> {Target}{Forward}", callerConn.Call.Id, from, route.Target, cause is null ? "" : " (" + cause + ")");
        var offer = OfferForCallee(call, peer.Value, PhoneFlow.Of(binding)?.NatDetected == true, calleeIsTrunk: false, out var endpointB);
        bool started;
        lock (call.Gate)
        {
            // The caller may have cancelled while the media was being set up.
            started = call.State == B2BState.Calling;
            if (started)
                StartCalleeLeg(call, route.Target, binding.Contact, peer.Value, offer, endpointB is null ? invite[SipHeaderNames.ContentType] : "application/sdp",
                    display, cause, autoAnswer: false, endpointB);
        }
        if (!started)
        {
            if (endpointB is not null) await endpointB.DisposeAsync().ConfigureAwait(false);
            DropEndpoint(call.A);
            if (call.Room is { } room) await room.Mixer.DisposeAsync().ConfigureAwait(false);
            return;
        }
        call.RingTimer = Time.CreateTimer(_ => _ = OnRingTimeoutAsync(call), null, _options.RingTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Calls the callee's phone on a new leg B with the caller's media (used for calls from phones, MakeCall, Redirect
    /// and Pickup). Responses of a leg that has since been replaced are ignored, or released if they answer.
    /// </summary>
    private void StartCalleeLeg(B2BCall call, string target, string contact, SipEndPoint peer, byte[] sdp, string? contentType, string display,
        string? cause, bool autoAnswer, Media.RtpEndpoint? endpoint = null)
    {
        var caller = call.Caller.Party;
        var legB = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
            $"sip:{caller}@{DomainFor(peer)}", $"sip:{target}@{DomainFor(peer)}", contact, peer, display), target);
        legB.Endpoint = endpoint;
        call.B = legB;
        _dialogs[legB.Dialog.Key] = (call, legB);
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
            t.Provisional += r => _ = OnCalleeProvisionalAsync(call, legB, r, cause);
            t.AdditionalSuccess += r => _ = OnStrayResponseAsync(r, peer);
        });
        _ = inviteB.FinalResponse.ContinueWith(t => OnCalleeFinalAsync(call, legB, t.Result, cause), TaskScheduler.Default).Unwrap();
    }

    private async Task OnCalleeProvisionalAsync(B2BCall call, Leg leg, SipResponse r, string? cause)
    {
        if (r.StatusCode == 100) return;
        LearnAnswerMethod(leg.Device, r["Allow-Events"]);
        lock (call.Gate)
        {
            if (call.State != B2BState.Calling || call.B != leg) return;
            leg.Dialog.OnResponse(r);
            call.Callee ??= _model.AddParty(call.Caller.Call, leg.Device, ConnectionState.Alerting, CallEventType.Delivered, cause);
        }
        if (call.InviteA is null) return;
        var toA = SipResponse.For(call.InviteA!.Request, r.StatusCode is 180 or 183 ? r.StatusCode : 180, toTag: call.A.Dialog.LocalTag);
        toA.Add(SipHeaderNames.Contact, ContactFor(call.B!.Device, call.A.Dialog.Peer));
        // Early media of an anchored call would tell the caller the callee's address; the switch has none to play.
        if (r.Body.Length > 0 && r.StatusCode == 183 && call.Room is null)
        {
            toA.Add(SipHeaderNames.ContentType, r[SipHeaderNames.ContentType] ?? "application/sdp");
            toA.Body = call.A.Outgoing(r.Body);
        }
        await call.InviteA.RespondAsync(toA).ConfigureAwait(false);
    }

    private async Task OnCalleeFinalAsync(B2BCall call, Leg b, SipResponse r, string? cause)
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
            DropEndpoint(b);
            return;
        }
        if (r.StatusCode is >= 200 and < 300)
        {
            b.Dialog.OnResponse(r);
            b.Sdp = r.Body;
            b.Confirmed = true;
            await _layer.SendAckAsync(b.Dialog.NewRequest("ACK", ContactFor(call.Caller.Party, b.Dialog.Peer), cseq: r.CSeq.Number), b.Dialog.Peer).ConfigureAwait(false);
            bool late;
            lock (call.Gate)
            {
                late = call.State != B2BState.Calling;
                if (!late)
                {
                    call.State = B2BState.Connected;
                    call.RingTimer?.Dispose();
                    call.Callee ??= _model.AddParty(call.Caller.Call, b.Device, ConnectionState.Alerting, CallEventType.Delivered, cause);
                }
            }
            if (late)
            {
                // The caller cancelled while the callee answered (CANCEL crossed the 200): release the callee.
                _ = _layer.Send(b.Dialog.NewRequest("BYE", ContactFor(call.Caller.Party, b.Dialog.Peer)), b.Dialog.Peer);
                _dialogs.TryRemove(b.Dialog.Key, out _);
                return;
            }
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
            call.InviteA.AckTimeout += _ => EndCallAsync(call, "no ACK from caller", CallOutcome.Failed).ContinueWith(_ => { }, TaskScheduler.Default);
            await call.InviteA.RespondAsync(ok).ConfigureAwait(false);
            _log.LogInformation("Call {Call}: {Callee} answered", call.Caller.Call.Id, b.Device);
            return;
        }

        lock (call.Gate)
        {
            if (call.State != B2BState.Calling) return;
        }
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
        _log.LogInformation("Call {Call}: {Callee} answered {Code}", call.Caller.Call.Id, b.Device, r.StatusCode);
        await EndCallAsync(call, r.StatusCode + " " + r.Reason, outcome, finalToA: code, reason: reason, failed: conn).ConfigureAwait(false);
    }

    private async Task OnRingTimeoutAsync(B2BCall call)
    {
        lock (call.Gate)
        {
            if (call.State != B2BState.Calling) return;
        }
        _log.LogInformation("Call {Call}: no answer from {Callee} within {Timeout}", call.Caller.Call.Id, call.B?.Device, _options.RingTimeout);
        await EndCallAsync(call, "no answer", CallOutcome.NoAnswer, finalToA: 480, reason: "Temporarily Unavailable (no answer)").ConfigureAwait(false);
    }

    /// <summary>
    /// Releases a call in whatever state it is: CANCEL or BYE towards the callee, the final response or BYE towards
    /// the caller, and the call model cleared.
    /// </summary>
    internal async Task EndCallAsync(B2BCall call, string cause, CallOutcome outcome, int finalToA = 487, string? reason = null,
        Connection? failed = null, Leg? byeFrom = null)
    {
        B2BState was;
        lock (call.Gate)
        {
            was = call.State;
            if (was == B2BState.Ended) return;
            call.State = B2BState.Ended;
            call.RingTimer?.Dispose();
        }
        if (call.InviteA is not null) _pending.TryRemove(call.InviteA, out _);
        if (was == B2BState.Calling)
        {
            if (call.InviteB is { } inviteB && !inviteB.FinalResponse.IsCompleted) _ = inviteB.CancelAsync();
            foreach (var g in call.GroupInvites) if (!g.FinalResponse.IsCompleted) _ = g.CancelAsync();
            if (call.InviteA is not null)
            {
                await call.InviteA.RespondAsync(SipResponse.For(call.InviteA.Request, finalToA, reason, call.A.Dialog.LocalTag)).ConfigureAwait(false);
            }
            else if (call.A.Confirmed && !call.A.Ended)
            {
                // MakeCall: the caller's phone already answered; release it.
                call.A.Ended = true;
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
                if (leg is null || leg == byeFrom || leg.Ended) continue;
                leg.Ended = true;
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
        if (!_dialogs.TryGetValue(SipDialog.KeyOf(req.CallId, req.To.Tag), out var d))
        {
            await txn.RespondAsync(481).ConfigureAwait(false);
            return;
        }
        var (call, leg) = d;
        if (!leg.Dialog.OnRequest(req))
        {
            await txn.RespondAsync(500, "Server Internal Error (CSeq out of order)").ConfigureAwait(false);
            return;
        }
        if (call.Room is { } room && call.State == B2BState.Connected)
        {
            await OnRoomRequestAsync(txn, call, room, leg).ConfigureAwait(false);
            return;
        }
        var other = call.Other(leg);
        switch (req.Method)
        {
            case "BYE":
                await txn.RespondAsync(200).ConfigureAwait(false);
                lock (call.Gate)
                {
                    leg.Ended = true;
                    // The phone of a controller that has left (transfer) hangs up its own side: nothing else ends.
                    if (call.State == B2BState.Ended)
                    {
                        _dialogs.TryRemove(leg.Dialog.Key, out _);
                        return;
                    }
                }
                var byConn = leg == call.A ? call.Caller : call.Callee;
                _log.LogInformation("Call {Call}: {Device} hung up", call.Caller.Call.Id, leg.Device);
                lock (call.Gate)
                {
                    // A BYE before the 200 was ACKed still releases both legs; for MakeCall, a caller who hangs up
                    // while the destination rings leaves the call Calling, so the destination is cancelled.
                    if (call.State == B2BState.Calling && call.InviteA is not null) call.State = B2BState.Connected;
                }
                if (byConn is not null) _model.Clear(byConn, "hung up");
                await EndCallAsync(call, "hung up", CallOutcome.Completed, byeFrom: leg).ConfigureAwait(false);
                return;
            case "ACK":
                return;
            case "REFER":
                await OnReferAsync(txn, call, leg).ConfigureAwait(false);
                return;
        }
        if (other is null || !other.Confirmed || call.State != B2BState.Connected)
        {
            await txn.RespondAsync(req.Method == "INVITE" ? 491 : 481).ConfigureAwait(false);
            return;
        }
        // Relay the request (re-INVITE for hold/resume, INFO for DTMF, UPDATE …) to the other phone and its answer back.
        var relay = other.Dialog.NewRequest(req.Method, ContactFor(leg.Device, other.Dialog.Peer));
        if (req[SipHeaderNames.ContentType] is { } ct) relay.Add(SipHeaderNames.ContentType, ct);
        foreach (var h in new[] { "Event", "Subscription-State", "Session-Expires" })
            if (req[h] is { } v) relay.Add(h, v);
        relay.Body = IsSdp(req[SipHeaderNames.ContentType]) ? other.Outgoing(req.Body) : req.Body;
        var answer = await _layer.Send(relay, other.Dialog.Peer).FinalResponse.ConfigureAwait(false);
        if (req.Method == "INVITE" && answer.StatusCode is >= 200 and < 300)
        {
            other.Dialog.OnResponse(answer);
            await _layer.SendAckAsync(other.Dialog.NewRequest("ACK", ContactFor(leg.Device, other.Dialog.Peer), relay.CSeq.Number), other.Dialog.Peer).ConfigureAwait(false);
            if (req.Body.Length > 0) leg.Sdp = req.Body;
            if (answer.Body.Length > 0) other.Sdp = answer.Body;
            NotePhoneHold(call, leg, req.Body);
        }
        var back = SipResponse.For(req, answer.StatusCode == 408 ? 408 : answer.StatusCode, answer.Reason);
        if (req.Method == "INVITE") back.Add(SipHeaderNames.Contact, ContactFor(other.Device, leg.Dialog.Peer));
        if (answer[SipHeaderNames.ContentType] is { } act) back.Add(SipHeaderNames.ContentType, act);
        back.Body = IsSdp(answer[SipHeaderNames.ContentType]) ? leg.Outgoing(answer.Body) : answer.Body;
        await txn.RespondAsync(back).ConfigureAwait(false);
    }

    private static bool IsSdp(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase);
}
