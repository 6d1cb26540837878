using System.Net;
using Switchboard.Media;
using Switchboard.Media.Codecs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Switch.Registrar;

namespace Switchboard.Switch;

/// <summary>
/// Where the media of a call dialled on a phone (or arriving from a trunk) runs. Phone to phone only when both ends
/// can reach each other directly: neither behind NAT, and both in one local network (a <c>Sip:LocalNetworks</c>
/// entry, or without one the same directly connected subnet of this host). Otherwise each phone gets its own RTP
/// endpoint of the switch, joined by a two-member mixer, as for MakeCall: a phone behind NAT, or on a subnet the other
/// cannot route to, then only ever sends to and hears from the switch.
/// </summary>
public sealed partial class SipSwitch
{
    /// <summary>
    /// The offer for the callee of a new call from <c>call.A</c>: the caller's own SDP when media may flow directly,
    /// else an offer of a new switch endpoint (<paramref name="endpointB"/>), with the caller's leg anchored too.
    /// </summary>
    private byte[] OfferForCallee(CallSession call, SipEndPoint calleePeer, bool calleeBehindNat, bool calleeIsTrunk, out RtpEndpoint? endpointB)
    {
        endpointB = null;
        var a = call.A;
        var why = AnchorReason(a, calleePeer, calleeBehindNat, calleeIsTrunk);
        var id = call.Caller.Call.Id;
        if (why is null)
        {
            NetLog.MediaDecision(_log, id, "phone to phone", DirectReason(calleeIsTrunk));
            return a.Sdp;
        }
        if (SdpText.AudioOf(a.Sdp, _codecs) is null)
        {
            NetLog.AnchorImpossible(_log, id, why);
            return a.Sdp;
        }
        a.Endpoint = Media.CreateEndpoint();
        PointAt(a.Endpoint, a.Sdp);
        call.Room = new ConferenceRoom(Media.CreateConference());
        endpointB = Media.CreateEndpoint();
        NetLog.MediaDecision(_log, id, "anchored in the switch", why);
        return SdpText.Offer(MediaAddressFor(calleePeer), endpointB.LocalEndPoint.Port, _codecs);
    }

    /// <summary>Why the call's media must run through the switch, or null when the phones may send to each other.</summary>
    private string? AnchorReason(Leg a, SipEndPoint calleePeer, bool calleeBehindNat, bool calleeIsTrunk)
    {
        // Keys never go into clear signalling, whatever Sip:MediaAnchor says: the switch terminates SRTP instead.
        if (SdpCrypto.HasAnyKey(a.Sdp) && calleePeer.Protocol != SipProtocol.Tls) return $"{a.Device} offers SRTP keys and the callee is not reached over TLS";
        if (!SdpCrypto.HasCrypto(a.Sdp) && RequiresSrtp(calleePeer)) return "the callee requires SRTP and the caller offers none";
        switch (_options.MediaAnchor)
        {
            case MediaAnchorMode.Never:
                return null;
            case MediaAnchorMode.Always:
                return "Sip:MediaAnchor is always";
        }
        bool callerIsTrunk = Trunks.FromSource(a.Dialog.Peer) is not null;
        if (!callerIsTrunk && CallerBehindNat(a) is { } callerWhy) return $"{a.Device} {callerWhy}";
        if (calleeBehindNat) return "the callee's phone is behind NAT";
        // A trunk is reachable from wherever its provider is: a phone without NAT sends to it as the switch would.
        if (callerIsTrunk || calleeIsTrunk) return null;
        var pa = LocalAddressSelector.Normalize(a.Dialog.Peer.Address.Address);
        var pb = LocalAddressSelector.Normalize(calleePeer.Address.Address);
        var addresses = _layer.Transport.Addresses;
        if (addresses.HasLocalNetworks)
            return addresses.CommonLocalNetwork(pa, pb) is null ? $"{pa} and {pb} are not in one Sip:LocalNetworks entry" : null;
        var na = addresses.ConnectedSubnetOf(pa);
        var nb = addresses.ConnectedSubnetOf(pb);
        if (na is null || nb is null) return $"{(na is null ? pa : pb)} is not on a subnet this host is connected to";
        return na.Value.Equals(nb.Value) ? null : $"{pa} ({na}) and {pb} ({nb}) are on different subnets";
    }

    private string DirectReason(bool trunk) => _options.MediaAnchor == MediaAnchorMode.Never ? "Sip:MediaAnchor is never"
        : trunk ? "no NAT detected" : "both phones on one local network, no NAT detected";

    /// <summary>
    /// Whether the caller's phone sits behind NAT, judged from its INVITE: a Contact that does not name the address the
    /// INVITE came from, or an SDP connection address other than that source (a phone behind NAT writes its private one).
    /// </summary>
    private static string? CallerBehindNat(Leg a)
    {
        var source = LocalAddressSelector.Normalize(a.Dialog.Peer.Address.Address);
        if (PhoneFlow.Of(a.Dialog.RemoteTarget, a.Dialog.Peer).NatDetected) return "is behind NAT (Contact names another address than the INVITE came from)";
        if (SdpText.AudioOf(a.Sdp) is { } media && !LocalAddressSelector.Normalize(media.Address).Equals(source)
            && !(IPAddress.IsLoopback(media.Address) && IPAddress.IsLoopback(source)))
            return $"is behind NAT (its SDP names {media.Address}, its signalling comes from {source})";
        return null;
    }

    /// <summary>
    /// An SDP answer for the switch's endpoint to a phone's offer: the first codec of the offer that <c>Media:Codecs</c>
    /// lists, on the offer's payload type, and, if offered, its telephone-event type, so the answer lists nothing the
    /// phone did not offer (RFC 3264 §6.1).
    /// </summary>
    private byte[] AnswerFromSwitch(Leg leg)
    {
        var offer = SdpText.AudioOf(leg.Sdp, _codecs);
        var answer = SdpText.Answer(MediaAddressFor(leg.Dialog.Peer), leg.Endpoint!.LocalEndPoint.Port, offer?.Codec ?? AudioCodec.Pcmu,
            SdpText.OffersTelephoneEvent(leg.Sdp) ? offer?.DtmfPayloadType : null, offer?.PayloadType, offer?.DtmfClockRate);
        return SrtpAnswer(leg.Endpoint, leg.Dialog.Peer, leg.Device, leg.Sdp, answer);
    }

    /// <summary>The callee answered an anchored call from a phone or trunk: both endpoints join the mixer.</summary>
    private bool JoinAnchored(CallSession call, ConferenceRoom room, Leg b, SipResponse answer)
    {
        if (b.Endpoint is null || call.A.Endpoint is null || !PointAt(b.Endpoint, answer.Body)) return false;
        room.Add(call.A, call.A.Endpoint, call.Caller);
        room.Add(b, b.Endpoint, call.Callee!);
        return true;
    }
}
