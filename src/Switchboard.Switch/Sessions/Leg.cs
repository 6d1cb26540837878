using Switchboard.Media;
using Switchboard.Sip.Dialogs;
using Switchboard.Switch.Calls;

namespace Switchboard.Switch.Sessions;

/// <summary>The INVITE session state of one leg, named as pjsip's invite session (RFC 3261 §13, §15).</summary>
internal enum LegState
{
    /// <summary>Created, nothing sent or received yet.</summary>
    Null,
    /// <summary>UAC: the INVITE is out, no response with a tag yet.</summary>
    Calling,
    /// <summary>UAS: an INVITE came in, nothing answered yet.</summary>
    Incoming,
    /// <summary>A provisional response with a tag: an early dialog (the phone rings).</summary>
    Early,
    /// <summary>UAS: the 2xx is sent, its ACK not yet in.</summary>
    Connecting,
    /// <summary>The dialog is confirmed (2xx received and ACKed, or 2xx sent and its ACK received).</summary>
    Confirmed,
    /// <summary>A BYE was sent or received, or the INVITE failed.</summary>
    Disconnected,
}

/// <summary>The SDP offer/answer state of a leg (RFC 3264, named as RFC 6337 §3).</summary>
internal enum OfferAnswerState
{
    /// <summary>No offer outstanding.</summary>
    Stable,
    /// <summary>The switch sent an offer (a re-INVITE) and waits for the answer: an offer from the phone now is glare (491).</summary>
    LocalOffer,
    /// <summary>The phone sent an offer that is being answered.</summary>
    RemoteOffer,
}

/// <summary>One call leg of the B2BUA: the SIP dialog with one phone, and what the switch knows about that phone's side.</summary>
internal sealed class Leg(SipDialog dialog, string device, LegState initial = LegState.Null)
{
    private readonly Lock _sdpGate = new();
    private string? _origin;
    private long _originVersion;
    private string? _lastSent;
    private volatile LegState _state = initial;
    private volatile OfferAnswerState _offerAnswer;

    /// <summary>The dialog with the phone.</summary>
    public SipDialog Dialog { get; } = dialog;

    /// <summary>The device at the phone end.</summary>
    public string Device { get; } = device;

    /// <summary>True when the switch sent the dialog's first INVITE, so it chose the Call-ID (RFC 3261 §14.1 glare timers).</summary>
    public bool OwnsCallId { get; } = initial == LegState.Calling;

    /// <summary>Where the leg's INVITE session is.</summary>
    public LegState State
    {
        get => _state;
        set
        {
            // Disconnected is final: a late 2xx or ACK of a released leg does not bring it back.
            if (_state != LegState.Disconnected) _state = value;
        }
    }

    /// <summary>Where the leg's offer/answer exchange is; read without the session's turn by the glare check.</summary>
    public OfferAnswerState OfferAnswer { get => _offerAnswer; set => _offerAnswer = value; }

    /// <summary>The last SDP the phone offered or answered.</summary>
    public byte[] Sdp { get; set; } = [];

    /// <summary>True once the dialog is confirmed.</summary>
    public bool Confirmed => _state == LegState.Confirmed;

    /// <summary>True once a BYE was sent or received.</summary>
    public bool Ended => _state == LegState.Disconnected;

    /// <summary>Whether the phone's last SDP puts the call on hold (RFC 3264 §8.4: sendonly or inactive).</summary>
    public bool PhoneHolds => Sdp.Length > 0 && SdpText.DirectionOf(Sdp) is "sendonly" or "inactive";

    /// <summary>The switch's RTP endpoint this phone sends to, when the call's media is anchored in the switch.</summary>
    public RtpEndpoint? Endpoint { get; set; }

    /// <summary>
    /// Marks the leg released; true for the one caller that does so (only it sends the BYE).
    /// </summary>
    public bool TryEnd()
    {
        lock (_sdpGate)
        {
            if (_state == LegState.Disconnected) return false;
            _state = LegState.Disconnected;
            return true;
        }
    }

    /// <summary>
    /// An SDP about to be sent to this phone, with the origin line this dialog started with: after a transfer the
    /// media description comes from another phone, but to this phone it must stay one session (RFC 3264 §8).
    /// </summary>
    public byte[] Outgoing(byte[] sdp)
    {
        // Last line of defence for SDES keys (RFC 4568 §8.3): whatever path an SDP took (a transfer re-pointing a
        // phone at another's media), a key never goes into signalling that is not TLS.
        if (Dialog.Peer.Protocol != Sip.Transport.SipProtocol.Tls && SdpCrypto.HasAnyKey(sdp)) sdp = SdpCrypto.WithoutCrypto(sdp);
        lock (_sdpGate) return SdpText.WithOrigin(sdp, ref _origin, ref _originVersion, ref _lastSent);
    }
}
