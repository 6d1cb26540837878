using Microsoft.Extensions.Logging;
using System.Net;
using Switchboard.Media;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// Media anchored in the switch. Calls set up by MakeCall have it from the start (the switch offers each phone its
/// own RTP endpoint, and the media engine's mixer joins them), so hold, transfer and conference need no re-INVITE to
/// those phones. A phone-to-phone call is re-INVITEd to an endpoint when it first needs the switch's media (transfer
/// to an anchored call, conference). In a conference each party hears the sum of the other two (and RFC 4733 digits
/// are relayed); the controller's held call is released; when a party leaves, the other two stay connected through
/// the mixer, and when one is left alone the call ends.
/// </summary>
public sealed partial class SipSwitch
{
    private readonly Lock _mediaGate = new();
    private MediaEngine? _media;

    /// <summary>The media engine, started with the first conference (a switch without conferences runs no media thread).</summary>
    private MediaEngine Media
    {
        get
        {
            lock (_mediaGate)
            {
                return _media ??= new MediaEngine(new MediaEngineOptions
                {
                    BindAddress = (_rtpAddress ?? (LocalEndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any)).ToString(),
                    PortMin = _options.RtpPortMin,
                    PortMax = _options.RtpPortMax,
                }, _loggers?.CreateLogger<MediaEngine>());
            }
        }
    }

    /// <summary>Open RTP endpoints and mixers of the media engine (0 when no call's media runs through the switch).</summary>
    public (int Endpoints, int Mixers) MediaInUse
    {
        get
        {
            lock (_mediaGate) return _media is null ? (0, 0) : (_media.OpenEndpoints, _media.OpenConferences);
        }
    }

    /// <summary>Live conferences (for tests and status).</summary>
    public int Conferences => Calls.Count(c => c.Room is { } r && r.Members.Count > 2 && c.State == SessionState.Connected);

    /// <summary>Live calls whose media runs through the switch (conferences included).</summary>
    public int AnchoredCalls => Calls.Count(c => c.Room is not null && c.State == SessionState.Connected);

    /// <inheritdoc />
    public async ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Conference {device}";
        if (Precheck(what, device) is { } refused) return refused;
        var held = _model.FirstInState(device, ConnectionState.Held);
        var active = _model.FirstInState(device, ConnectionState.Connected);
        if (held is null || active is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: needs a connected and a held call at {device}");
        if (SessionOf(held) is not { } hs || SessionOf(active) is not { } acs)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the calls are not two-party calls on this switch (a conference takes three parties)");
        return await CallSession.RunBothAsync(hs, acs, () => JoinConferenceAsync(what, device, held, active)).ConfigureAwait(false);
    }

    /// <summary>Joins a device's held and active call into one conference, owning both sessions.</summary>
    private async Task<CallControlResult> JoinConferenceAsync(string what, string device, Connection held, Connection active)
    {
        if (LegsOf(held) is not { } h || LegsOf(active) is not { } a)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the calls are not two-party calls on this switch (a conference takes three parties)");
        var heldPartner = _model.PartnersOf(held).FirstOrDefault(p => p.Party == h.Theirs.Device);
        var activePartner = _model.PartnersOf(active).FirstOrDefault(p => p.Party == a.Theirs.Device);
        if (heldPartner is null || activePartner is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: a partner left meanwhile");

        var parties = new (Leg Leg, Connection Connection)[] { (a.Mine, active), (a.Theirs, activePartner), (h.Theirs, heldPartner) };
        foreach (var (leg, _) in parties)
        {
            if (!await AnchorAsync(leg).ConfigureAwait(false))
                return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phone at {leg.Device} did not accept the conference media (G.711 needed)");
        }

        var room = new ConferenceRoom(Media.CreateConference());
        await LeaveRoomsAsync(h.Call, a.Call).ConfigureAwait(false);
        ReleaseControllerLeg(h.Call, h.Mine);
        a.Call.State = SessionState.Ended;
        var joined = _model.Conference(active, held);
        var call = new CallSession(a.Mine, null, active) { B = a.Theirs, Callee = activePartner, State = SessionState.Connected, Room = room };
        foreach (var (leg, connection) in parties)
        {
            room.Add(leg, leg.Endpoint!, connection);
            call.Adopt(connection);
            Register(call, leg);
        }
        SwitchLog.Conferenced(_log, joined.Id, device, a.Theirs.Device, h.Theirs.Device);
        return CallControlResult.Ok($"{what}: conference call {joined.Id} with {device}, {a.Theirs.Device} and {h.Theirs.Device}");
    }

    /// <summary>
    /// Makes sure a confirmed leg's phone sends its audio to an RTP endpoint of the switch: a leg already anchored
    /// keeps its endpoint (no re-INVITE, so the phone notices nothing); any other is re-INVITEd to a new one.
    /// </summary>
    private async Task<bool> AnchorAsync(Leg leg)
    {
        if (leg.Endpoint is not null) return true;
        var endpoint = Media.CreateEndpoint();
        var offer = SrtpOffer(endpoint, leg.Dialog.Peer, leg.Device, SdpText.Offer(MediaAddressFor(leg.Dialog.Peer), endpoint.LocalEndPoint.Port, _codecs));
        if (!await ReinviteAsync(leg, offer, "switchboard").ConfigureAwait(false) || !PointAt(endpoint, leg.Sdp))
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
            return false;
        }
        leg.Endpoint = endpoint;
        return true;
    }

    /// <summary>
    /// The calls' anchored media is being rearranged (transfer, conference): every member leaves its old mixer, whose
    /// endpoints stay with their legs; the old mixers close.
    /// </summary>
    private static async Task LeaveRoomsAsync(params CallSession[] calls)
    {
        foreach (var c in calls)
        {
            if (c.Room is not { } room) continue;
            foreach (var m in room.Members) room.Remove(m.Leg);
            await room.Mixer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The offer for a new callee leg: an endpoint of the switch when the call's media is anchored, else the caller's own media.</summary>
    private byte[] CalleeOffer(CallSession call, SipEndPoint calleePeer, out RtpEndpoint? endpoint)
    {
        if (call.Room is not null)
        {
            endpoint = Media.CreateEndpoint();
            return SdpText.Offer(MediaAddressFor(calleePeer), endpoint.LocalEndPoint.Port, _codecs);
        }
        endpoint = null;
        return call.InviteA is null ? SdpText.WithDirection(call.A.Sdp, "sendrecv") : call.A.Sdp;
    }

    /// <summary>Closes the endpoint of a leg that is gone (fire and forget: closing waits for the receive loop).</summary>
    private static void DropEndpoint(Leg leg)
    {
        if (leg.Endpoint is { } e)
        {
            leg.Endpoint = null;
            _ = e.DisposeAsync().AsTask();
        }
    }

    /// <summary>
    /// The address the switch's own SDP names towards a phone: the configured RTP address, else the address that
    /// serves that phone's signalling (RTP sockets listen on the wildcard, so every local address reaches them).
    /// </summary>
    private string MediaAddressFor(SipEndPoint peer) =>
        _rtpAddress is { } fixedAddress ? fixedAddress.ToString() : _layer.Transport.Addresses.For(peer.Address.Address).ToString();

    /// <summary>Points an endpoint at the audio a phone described; false if it described none the mixer can take.</summary>
    private bool PointAt(RtpEndpoint endpoint, byte[] sdp)
    {
        if (SdpText.AudioOf(sdp, _codecs) is not { } media || media.Address.AddressFamily != endpoint.LocalEndPoint.AddressFamily) return false;
        endpoint.SetRemote(new IPEndPoint(media.Address, media.Port), media.Codec, media.PayloadType, media.DtmfPayloadType);
        return ApplySrtpAnswer(endpoint, sdp);
    }

    /// <summary>In-dialog requests on a conference leg: the switch itself is the peer of every phone.</summary>
    private async Task OnRoomRequestAsync(ServerTransaction txn, CallSession call, ConferenceRoom room, Leg leg)
    {
        var req = txn.Request;
        switch (req.Method)
        {
            case "ACK":
                return;
            case "BYE":
                await txn.RespondAsync(200).ConfigureAwait(false);
                leg.TryEnd();
                SwitchLog.HungUp(_log, call.Caller.Call.Id, leg.Device);
                await LeaveRoomAsync(call, room, leg, "hung up").ConfigureAwait(false);
                return;
            case "INVITE":
                if (room.Find(leg) is not { } member)
                {
                    await txn.RespondAsync(481).ConfigureAwait(false);
                    return;
                }
                if (req.Body.Length > 0)
                {
                    // Before PointAt: a refused re-offer must not move the endpoint or touch its keys.
                    if (await RefuseUnkeyedOfferAsync(txn, leg.Dialog.Peer, leg.Device, reinvite: true).ConfigureAwait(false)) return;
                    if (!PointAt(member.Endpoint, req.Body))
                    {
                        await txn.RespondAsync(488, "Not Acceptable Here (no codec the switch speaks)").ConfigureAwait(false);
                        return;
                    }
                    leg.Sdp = req.Body;
                    NotePhoneHold(member.Connection, req.Body);
                }
                // The answer mirrors the phone's direction (RFC 3264 §6.1): a phone that holds gets recvonly.
                var direction = SdpText.DirectionOf(req.Body) switch { "sendonly" => "recvonly", "recvonly" => "sendonly", "inactive" => "inactive", _ => "sendrecv" };
                var ok = SipResponse.For(req, 200);
                ok.Add(SipHeaderNames.Contact, ContactFor("conference", leg.Dialog.Peer));
                ok.Add(SipHeaderNames.ContentType, "application/sdp");
                ok.Body = leg.Outgoing(SrtpAnswer(member.Endpoint, leg.Dialog.Peer, leg.Device, req.Body,
                    SdpText.WithDirection(RoomSdp(leg, member.Endpoint, req.Body), direction)));
                await txn.RespondAsync(ok).ConfigureAwait(false);
                return;
            case "REFER" when room.Members.Count == 2:
                await OnReferAsync(txn, call, leg).ConfigureAwait(false);
                return;
            case "REFER":
                await txn.RespondAsync(403, "Forbidden (no transfer out of a conference; hang up to leave)").ConfigureAwait(false);
                return;
            default:
                // INFO (SIP INFO digits), UPDATE without SDP, NOTIFY: nothing to carry across a mixer.
                await txn.RespondAsync(200).ConfigureAwait(false);
                return;
        }
    }

    /// <summary>
    /// A party leaves: out of the mix, its dialog released, its connection cleared. Two left stay connected through
    /// the mixer; one left alone is released and the conference ends.
    /// </summary>
    private async Task LeaveRoomAsync(CallSession call, ConferenceRoom room, Leg leg, string cause)
    {
        if (room.Remove(leg) is not { } gone)
        {
            // A leg the mixer never took (its media was refused, or it is still being joined): a two-party call
            // cannot go on without it, so it ends rather than leaving the other phone connected to nobody.
            if (room.Members.Count < 2 && call.State != SessionState.Ended)
                await EndCallAsync(call, cause, CallOutcome.Completed).ConfigureAwait(false);
            return;
        }
        ByeIfStillUp(call, leg);
        leg.Endpoint = null;
        await gone.Endpoint.DisposeAsync().ConfigureAwait(false);
        _model.Clear(gone.Connection, cause);
        if (room.Members.Count > 1) return;
        call.State = SessionState.Ended;
        await CloseRoomAsync(call, room).ConfigureAwait(false);
        _model.EndCall(call.Caller.Call, cause);
    }

    /// <summary>Closes a call's anchored media: every member's phone gets a BYE (unless it hung up), endpoints and mixer close.</summary>
    private async Task CloseRoomAsync(CallSession call, ConferenceRoom room)
    {
        foreach (var m in room.Members)
        {
            room.Remove(m.Leg);
            ByeIfStillUp(call, m.Leg);
            m.Leg.Endpoint = null;
            await m.Endpoint.DisposeAsync().ConfigureAwait(false);
        }
        await room.Mixer.DisposeAsync().ConfigureAwait(false);
    }
}
