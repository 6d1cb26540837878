using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// MakeCall by third-party call control (RFC 3725). The caller's phone is rung first with auto-answer hints: while it
/// rings its connection is alerting (a Delivered event), and Answer works on it as on any ringing call; once it
/// answers (its 200 is ACKed at once, so no 200 waits while the destination rings) it is initiated again and the
/// destination is called. Between extensions the media is anchored in the switch from the start; to an outside number
/// the caller's phone is re-INVITEd with the destination's media once it answers.
/// </summary>
public sealed partial class SipSwitch
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default)
    {
        var what = $"MakeCall {device} {destination}";
        var refused = CheckMakeCall(what, device, destination, out var route, out var callerBinding, out var callerPeer);
        if (refused is { } no) return no;
        if ((_model.FirstInState(device, ConnectionState.Initiated) ?? _model.FirstInState(device, ConnectionState.Alerting)) is { } busy)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: {device} is already placing or being offered call {busy.Call.Id}");
        // A consultation call: the call in progress is held first, as the hold key of a phone would do.
        if (_model.FirstInState(device, ConnectionState.Connected) is { } current)
        {
            var held = await HoldInTurnAsync(current).ConfigureAwait(false);
            if (held != HoldOutcome.Done)
                return CallControlResult.Fail(ReplyCode.WrongState, held == HoldOutcome.Gone
                    ? $"{what}: call {current.Call.Id} cannot be held (it is no connected two-party call on this switch)"
                    : $"{what}: could not put call {current.Call.Id} on hold");
        }
        return await StartMakeCallAsync(what, device, destination, route, callerBinding!, callerPeer!.Value).ConfigureAwait(false);
    }

    private CallControlResult? CheckMakeCall(string what, string device, string destination, out Route route, out PhoneBinding? callerBinding,
        out SipEndPoint? callerPeer)
    {
        route = default;
        callerBinding = null;
        callerPeer = null;
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (destination == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: a device cannot call itself");
        var kind = _dialPlan.Classify(destination, _model.IsDevice);
        if (kind == NumberKind.UnknownExtension) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown extension {destination}");
        route = _model.Resolve(destination);
        if (route.DoNotDisturb) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: {route.Target} has do-not-disturb on");
        // Every outside attempt counts against the rate limit, refused ones too, so the rules cannot be probed for free.
        if (!_model.IsDevice(route.Target) && RefuseOutside(ForwardingDevice(route, device), route.Target, what) is { } refused) return refused;
        callerBinding = _bindings.Lookup(device).FirstOrDefault();
        callerPeer = callerBinding is null ? null : Registrar.Registrar.EndPointOf(callerBinding);
        if (callerBinding is null || callerPeer is null) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {device}");
        if (_model.IsDevice(route.Target) && _bindings.Lookup(route.Target).Count == 0) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {route.Target}");
        return null;
    }

    private Task<CallControlResult> StartMakeCallAsync(string what, string device, string destination, Route route, PhoneBinding callerBinding, SipEndPoint callerPeer)
    {
        var callerConn = _model.StartCall(device, destination);
        var legA = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
            $"sip:{destination}@{DomainFor(callerPeer)}", $"sip:{device}@{DomainFor(callerPeer)}", callerBinding.Contact, callerPeer, "Call to " + destination),
            device, LegState.Calling);
        var call = new CallSession(legA, null, callerConn);
        Register(call, legA);
        return call.RunAsync(() => Task.FromResult(RingCallerPhone(what, call, callerPeer, route)));
    }

    /// <summary>The first INVITE of a MakeCall, to the caller's own phone; in the new session's turn.</summary>
    private CallControlResult RingCallerPhone(string what, CallSession call, SipEndPoint callerPeer, Route route)
    {
        var legA = call.A;
        var (device, destination) = (legA.Device, call.Caller.Call.Called);
        var callerConn = call.Caller;

        var invite = legA.Dialog.NewRequest("INVITE", ContactFor(destination, callerPeer));
        // Auto-answer hints as phones understand them (Call-Info answer-after, Alert-Info alert-autoanswer).
        invite.Add("Call-Info", $"<sip:{DomainFor(callerPeer)}>;answer-after=0");
        invite.Add("Alert-Info", $"<http://{HostFor(callerPeer)}/autoanswer>;info=alert-autoanswer");
        invite.Add(SipHeaderNames.ContentType, "application/sdp");
        if (_model.IsDevice(route.Target))
        {
            // Between extensions the media is anchored from the start: the caller's phone gets its own endpoint of the
            // switch, and the destination another; the mixer joins them once both answered. Hold, transfer and
            // conference then never need to re-INVITE these phones.
            legA.Endpoint = Media.CreateEndpoint();
            call.Room = new ConferenceRoom(Media.CreateConference());
            invite.Body = legA.Outgoing(SrtpOffer(legA.Endpoint, callerPeer, device, SdpText.Offer(MediaAddressFor(callerPeer), legA.Endpoint.LocalEndPoint.Port, _codecs)));
        }
        else
        {
            invite.Body = legA.Outgoing(Encoding.ASCII.GetBytes(InactiveOffer(callerPeer)));
        }
        var txn = _layer.Send(invite, callerPeer, t =>
        {
            call.InviteAOut = t;
            t.Provisional += r => _ = call.RunAsync(() => OnCallerPhoneRinging(call, r));
        });
        _ = txn.FinalResponse.ContinueWith(t => call.RunAsync(() => OnCallerPhoneAnsweredAsync(call, t.Result, route)), TaskScheduler.Default).Unwrap();
        StartRingTimer(call);
        SwitchLog.MakeCallStarted(_log, callerConn.Call.Id, device, destination);
        // The call id lets a client match the events that follow (DESIGN.md §4, an extension of the seed's reply).
        return CallControlResult.Ok($"{what}: call {callerConn.Call.Id}, calling {device}, then {destination}");
    }

    /// <summary>The caller's own phone rings: its connection is alerting, so Status, events and Answer see a ringing call.</summary>
    private Task OnCallerPhoneRinging(CallSession call, SipResponse r)
    {
        if (r.StatusCode == 100 || call.State != SessionState.Calling || call.A.State is not (LegState.Calling or LegState.Early)) return Task.CompletedTask;
        LearnAnswerMethod(call.A.Device, r["Allow-Events"]);
        call.A.Dialog.OnResponse(r);
        if (r.To.Tag is not null) call.A.State = LegState.Early;
        if (call.Caller.State == ConnectionState.Initiated)
            _model.ChangeState(call.Caller, ConnectionState.Alerting, CallEventType.Delivered, "makecall");
        return Task.CompletedTask;
    }

    private async Task OnCallerPhoneAnsweredAsync(CallSession call, SipResponse r, Route route)
    {
        var a = call.A;
        if (r.StatusCode is < 200 or >= 300)
        {
            a.State = LegState.Disconnected;
            if (call.State != SessionState.Calling) return;
            SwitchLog.MakeCallCallerDidNotAnswer(_log, call.Caller.Call.Id, a.Device, r.StatusCode);
            await EndCallAsync(call, $"{a.Device} did not answer: {r.StatusCode} {r.Reason}", OutcomeOfRefusal(r.StatusCode)).ConfigureAwait(false);
            return;
        }
        a.Dialog.OnResponse(r);
        a.Sdp = r.Body;
        a.State = LegState.Confirmed;
        await _layer.SendAckAsync(a.Dialog.NewRequest("ACK", ContactFor(call.Caller.Call.Called, a.Dialog.Peer), r.CSeq.Number), a.Dialog.Peer).ConfigureAwait(false);
        if (call.State != SessionState.Calling) return;
        // The caller's phone is off-hook: it places the call now (CSTA initiated), as a phone that dialled itself.
        if (call.Caller.State == ConnectionState.Alerting)
            _model.ChangeState(call.Caller, ConnectionState.Initiated, CallEventType.Originated, "answered");
        if (call.Room is { } room)
        {
            if (a.Endpoint is null || !PointAt(a.Endpoint, r.Body))
            {
                SwitchLog.NoUsableAudio(_log, call.Caller.Call.Id, a.Device);
                await EndCallAsync(call, "no usable media", CallOutcome.Failed).ConfigureAwait(false);
                return;
            }
            room.Add(a, a.Endpoint, call.Caller);
        }
        if (!_model.IsDevice(route.Target))
        {
            await CallOutAfterAnswerAsync(call, route, SdpText.WithDirection(a.Sdp, "sendrecv")).ConfigureAwait(false);
            return;
        }

        var binding = _bindings.Lookup(route.Target).FirstOrDefault();
        var peer = binding is null ? null : Registrar.Registrar.EndPointOf(binding);
        if (binding is null || peer is null)
        {
            call.Callee = _model.AddParty(call.Caller.Call, route.Target, ConnectionState.Failed, CallEventType.Failed, "not registered");
            await EndCallAsync(call, "unreachable", CallOutcome.Failed).ConfigureAwait(false);
            return;
        }
        var cause = route.ForwardedFrom.Count > 0 ? "forwarded from " + string.Join(",", route.ForwardedFrom) : null;
        var offer = CalleeOffer(call, peer.Value, out var endpoint);
        StartCalleeLeg(call, route.Target, binding.Contact, peer.Value, offer, "application/sdp", a.Device, cause, autoAnswer: false, endpoint);
    }

    /// <summary>The destination answered a MakeCall: give the caller's phone the destination's media and connect.</summary>
    private async Task ConnectThirdPartyAsync(CallSession call, SipResponse answerFromB)
    {
        var a = call.A;
        if (call.Room is { } room)
        {
            var b = call.B!;
            if (b.Endpoint is null || !PointAt(b.Endpoint, answerFromB.Body))
            {
                SwitchLog.NoUsableAudio(_log, call.Caller.Call.Id, b.Device);
                await EndCallAsync(call, "no usable media", CallOutcome.Failed).ConfigureAwait(false);
                return;
            }
            room.Add(b, b.Endpoint, call.Callee!);
            _model.Establish(call.Callee!);
            SwitchLog.ThirdPartyConnected(_log, call.Caller.Call.Id, a.Device, b.Device, "the switch's mixer");
            return;
        }
        _model.Establish(call.Callee!);
        if (await ReinviteAsync(a, answerFromB.Body, call.B!.Device).ConfigureAwait(false))
        {
            SwitchLog.ThirdPartyConnected(_log, call.Caller.Call.Id, a.Device, call.B.Device, "phone to phone");
            return;
        }
        SwitchLog.MediaRefused(_log, call.Caller.Call.Id, a.Device);
        await EndCallAsync(call, "media refused", CallOutcome.Failed).ConfigureAwait(false);
    }

    /// <summary>An offer that sends and receives nothing: the caller's phone is connected to silence until the destination answers.</summary>
    private string InactiveOffer(SipEndPoint peer)
    {
        var ip = MediaAddressFor(peer);
        var family = ip.Contains(':') ? "IP6" : "IP4";
        var id = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return $"v=0\r\no=switchboard {id} 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n" +
               "m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=inactive\r\n";
    }
}
