using Switchboard.Media;
using Switchboard.Sip.Dialogs;

namespace Switchboard.Switch.Calls;

/// <summary>One call leg of the B2BUA: the SIP dialog with one phone, and what the switch knows about that phone's side.</summary>
internal sealed class Leg(SipDialog dialog, string device)
{
    private readonly Lock _sdpGate = new();
    private string? _origin;
    private long _originVersion;
    private string? _lastSent;

    /// <summary>The dialog with the phone.</summary>
    public SipDialog Dialog { get; } = dialog;

    /// <summary>The device at the phone end.</summary>
    public string Device { get; } = device;

    /// <summary>The last SDP the phone offered or answered.</summary>
    public byte[] Sdp { get; set; } = [];

    /// <summary>True once the dialog is confirmed (2xx sent and ACKed, or 2xx received).</summary>
    public bool Confirmed { get; set; }

    /// <summary>True once a BYE was sent or received.</summary>
    public bool Ended { get; set; }

    /// <summary>The switch's RTP endpoint this phone sends to, when the call's media is anchored in the switch.</summary>
    public RtpEndpoint? Endpoint { get; set; }

    /// <summary>
    /// An SDP about to be sent to this phone, with the origin line this dialog started with: after a transfer the
    /// media description comes from another phone, but to this phone it must stay one session (RFC 3264 §8).
    /// </summary>
    public byte[] Outgoing(byte[] sdp)
    {
        // Last line of defence for SDES keys (RFC 4568 §8.3): whatever path an SDP took (a transfer re-pointing a
        // phone at another's media), a key never goes into signalling that is not TLS.
        if (Dialog.Peer.Protocol != Sip.Transport.SipProtocol.Tls && SdpCrypto.HasCrypto(sdp)) sdp = SdpCrypto.WithoutCrypto(sdp);
        lock (_sdpGate) return SdpText.WithOrigin(sdp, ref _origin, ref _originVersion, ref _lastSent);
    }
}
