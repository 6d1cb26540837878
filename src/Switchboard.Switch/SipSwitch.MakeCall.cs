using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// MakeCall by third-party call control (RFC 3725). The caller's phone is rung first with auto-answer hints and an
/// inactive offer, and its 200 is ACKed at once (no 200 is left waiting while the destination rings); the
/// destination is then offered the caller's media, and once it answers the caller's phone is re-INVITEd with the
/// destination's media, so audio flows phone to phone.
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
        if (_model.FirstInState(device, ConnectionState.Connected) is { } current && !await HoldAsync(current).ConfigureAwait(false))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: could not put call {current.Call.Id} on hold");
        return StartMakeCall(what, device, destination, route, callerBinding!, callerPeer!.Value);
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

    private CallControlResult StartMakeCall(string what, string device, string destination, Route route, PhoneBinding callerBinding, SipEndPoint callerPeer)
    {
        var callerConn = _model.StartCall(device, destination);
        var legA = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
            $"sip:{destination}@{DomainFor(callerPeer)}", $"sip:{device}@{DomainFor(callerPeer)}", callerBinding.Contact, callerPeer, "Call to " + destination), device);
        var call = new B2BCall(legA, null, callerConn);
        _dialogs[legA.Dialog.Key] = (call, legA);

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
        var txn = _layer.Send(invite, callerPeer, t => call.InviteAOut = t);
        _ = txn.FinalResponse.ContinueWith(t => OnCallerPhoneAnsweredAsync(call, t.Result, route), TaskScheduler.Default).Unwrap();
        call.RingTimer = Time.CreateTimer(_ => _ = OnRingTimeoutAsync(call), null, _options.RingTimeout, Timeout.InfiniteTimeSpan);
        _log.LogInformation("MakeCall {Call}: ringing {Device} first, then {Destination}", callerConn.Call.Id, device, destination);
        return CallControlResult.Ok($"{what}: calling {device}, then {destination}");
    }

    private async Task OnCallerPhoneAnsweredAsync(B2BCall call, SipResponse r, Route route)
    {
        var a = call.A;
        if (r.StatusCode is < 200 or >= 300)
        {
            lock (call.Gate)
            {
                if (call.State != B2BState.Calling) return;
            }
            _log.LogInformation("MakeCall {Call}: {Device} did not answer ({Code})", call.Caller.Call.Id, a.Device, r.StatusCode);
            await EndCallAsync(call, $"{a.Device} did not answer: {r.StatusCode} {r.Reason}", OutcomeOfRefusal(r.StatusCode)).ConfigureAwait(false);
            return;
        }
        a.Dialog.OnResponse(r);
        a.Sdp = r.Body;
        a.Confirmed = true;
        await _layer.SendAckAsync(a.Dialog.NewRequest("ACK", ContactFor(call.Caller.Call.Called, a.Dialog.Peer), r.CSeq.Number), a.Dialog.Peer).ConfigureAwait(false);
        lock (call.Gate)
        {
            if (call.State != B2BState.Calling) return;
        }
        if (call.Room is { } room)
        {
            if (a.Endpoint is null || !PointAt(a.Endpoint, r.Body))
            {
                _log.LogWarning("MakeCall {Call}: {Device} answered without G.711 audio", call.Caller.Call.Id, a.Device);
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
    private async Task ConnectThirdPartyAsync(B2BCall call, SipResponse answerFromB)
    {
        var a = call.A;
        if (call.Room is { } room)
        {
            var b = call.B!;
            if (b.Endpoint is null || !PointAt(b.Endpoint, answerFromB.Body))
            {
                _log.LogWarning("Call {Call}: {Callee} answered without G.711 audio", call.Caller.Call.Id, b.Device);
                await EndCallAsync(call, "no usable media", CallOutcome.Failed).ConfigureAwait(false);
                return;
            }
            _model.Establish(call.Callee!);
            room.Add(b, b.Endpoint, call.Callee!);
            _log.LogInformation("Call {Call}: {Caller} and {Callee} connected through the switch's mixer", call.Caller.Call.Id, a.Device, b.Device);
            return;
        }
        _model.Establish(call.Callee!);
        if (await ReinviteAsync(a, answerFromB.Body, call.B!.Device).ConfigureAwait(false))
        {
            _log.LogInformation("MakeCall {Call}: {Caller} and {Callee} connected", call.Caller.Call.Id, a.Device, call.B.Device);
            return;
        }
        _log.LogWarning("MakeCall {Call}: {Caller} refused the destination's media", call.Caller.Call.Id, a.Device);
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
