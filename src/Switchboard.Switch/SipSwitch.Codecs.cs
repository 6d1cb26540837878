using Switchboard.Media;
using Switchboard.Media.Codecs;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;

namespace Switchboard.Switch;

/// <summary>The codecs of media anchored in the switch (<c>Media:Codecs</c>): what its SDP offers and answers.</summary>
public sealed partial class SipSwitch
{
    // Parsed once from the options: an unknown name stops the switch at start, not at the first call.
    private readonly IReadOnlyList<AudioCodec> _codecs;

    /// <summary>The codecs the switch offers for anchored media, most preferred first.</summary>
    public IReadOnlyList<AudioCodec> OfferedCodecs => _codecs;

    /// <summary>
    /// The switch's SDP towards a phone in a mixer: an answer in the codec the endpoint was just pointed at when the
    /// phone's re-INVITE carried an offer, else (an offerless re-INVITE) an offer of every configured codec.
    /// </summary>
    private byte[] RoomSdp(Leg leg, RtpEndpoint endpoint, byte[] phoneOffer)
    {
        var address = MediaAddressFor(leg.Dialog.Peer);
        var port = endpoint.LocalEndPoint.Port;
        if (phoneOffer.Length == 0 || endpoint.Codec is not { } codec) return SdpText.Offer(address, port, _codecs);
        var offered = SdpText.AudioOf(phoneOffer, _codecs);
        return SdpText.Answer(address, port, codec, SdpText.OffersTelephoneEvent(phoneOffer) ? offered?.DtmfPayloadType : null, endpoint.AudioPayloadType,
            offered?.DtmfClockRate);
    }
}
