using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Switchboard.Media;
using Switchboard.Media.Srtp;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;

namespace Switchboard.Switch;

/// <summary>
/// SRTP with SDES keys on the switch's own media endpoints. A key goes into SDP only towards a peer reached over TLS
/// (RFC 4568 §8.3: the body is not otherwise protected), and only when the device's or trunk's policy is not off.
/// Offers from the switch carry one AES_CM_128_HMAC_SHA1_80 key: in RTP/SAVP when the policy is required, in RTP/AVP
/// (best effort, as phones set to "optional" offer it) otherwise. A phone's offer with a usable key is answered with
/// the switch's own key under the same tag and suite.
/// </summary>
public sealed partial class SipSwitch
{
    private readonly ConditionalWeakTable<RtpEndpoint, SrtpState> _srtp = new();

    /// <summary>The switch's media endpoints speaking SRTP now.</summary>
    public int SecureEndpoints => _srtp.Count(e => e.Key.IsSecure);

    /// <summary>SRTP packets refused so far (bad tag, replayed) on the endpoints that ever negotiated keys and are still open.</summary>
    public long SrtpRejectedPackets => _srtp.Sum(e => e.Key.SrtpRejected);

    /// <summary>The transport a device's phones are registered over ("udp", "tcp", "tls"), for status and tests.</summary>
    public IReadOnlyList<string> RegisteredTransports(string device) =>
        [.. _bindings.Lookup(device).Select(b => b.Source.Split(':')[0])];

    /// <summary>The SRTP policy of a peer: its trunk's, else the device's, else <see cref="SwitchOptions.Srtp"/>.</summary>
    private SrtpPolicy SrtpPolicyFor(SipEndPoint peer, string device)
    {
        if (Trunks.FromSource(peer) is { } trunk) return trunk.Options.Srtp;
        return _options.DeviceSrtp.TryGetValue(device, out var p) ? p : _options.Srtp;
    }

    /// <summary>Whether the trunk or registered device at <paramref name="peer"/> has SRTP policy required.</summary>
    private bool RequiresSrtp(SipEndPoint peer)
    {
        if (Trunks.FromSource(peer) is { } trunk) return trunk.Options.Srtp == SrtpPolicy.Required;
        if (_options.Srtp == SrtpPolicy.Required) return true;
        foreach (var (device, policy) in _options.DeviceSrtp)
        {
            if (policy != SrtpPolicy.Required) continue;
            foreach (var b in _bindings.Lookup(device))
                if (Registrar.PhoneFlow.Of(b)?.EndPoint == peer) return true;
        }
        return false;
    }

    /// <summary>The switch's offer to a peer from <paramref name="endpoint"/>, with a key when the peer may have one.</summary>
    private byte[] SrtpOffer(RtpEndpoint endpoint, SipEndPoint peer, string device, byte[] offer)
    {
        var policy = SrtpPolicyFor(peer, device);
        if (policy == SrtpPolicy.Off || peer.Protocol != SipProtocol.Tls)
        {
            if (policy == SrtpPolicy.Required) SrtpSwitchLog.RequiredWithoutTls(_log, device, peer);
            _srtp.Remove(endpoint);
            return offer;
        }
        var state = _srtp.GetValue(endpoint, _ => new SrtpState());
        lock (state)
        {
            state.Ours ??= SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
            state.Policy = policy;
            return SdpCrypto.WithCrypto(offer, state.Ours, secureProfile: policy == SrtpPolicy.Required);
        }
    }

    /// <summary>
    /// The switch's answer from <paramref name="endpoint"/> to a peer's offer: keyed when the offer had a usable key and
    /// the peer may have one (then the endpoint speaks SRTP from now on), else plain with the endpoint plain too.
    /// </summary>
    private byte[] SrtpAnswer(RtpEndpoint endpoint, SipEndPoint peer, string device, byte[] remoteOffer, byte[] answer)
    {
        var policy = SrtpPolicyFor(peer, device);
        var offered = SdpCrypto.CryptoOf(remoteOffer, out var declined);
        bool secure = SdpCrypto.IsSecureProfile(remoteOffer);
        if (policy == SrtpPolicy.Off || peer.Protocol != SipProtocol.Tls || offered.Count == 0)
        {
            if (secure || SdpCrypto.HasCrypto(remoteOffer))
                SrtpSwitchLog.OfferNotKeyed(_log, device, peer, policy == SrtpPolicy.Off ? "Srtp is off" : peer.Protocol != SipProtocol.Tls ? "not over TLS" : declined.ToString());
            _srtp.Remove(endpoint);
            endpoint.SetSrtp(null, null);
            return answer;
        }
        var theirs = offered[0];
        var state = _srtp.GetValue(endpoint, _ => new SrtpState());
        lock (state)
        {
            // The switch keeps its key across re-offers (same suite), so a phone's re-INVITE does not re-key the stream.
            var ours = state.Ours is { } o && o.Suite == theirs.Suite ? o.WithTag(theirs.Tag) : SdesCrypto.Generate(theirs.Tag, theirs.Suite);
            state.Ours = ours;
            state.Policy = policy;
            Apply(endpoint, state, theirs);
            return SdpCrypto.WithCrypto(answer, ours, secure);
        }
    }

    /// <summary>
    /// A peer's description arrived for an endpoint the switch offered a key from: SRTP on with the key of the answer's
    /// matching attribute, or plain when it has none. False when the policy is required and the answer has no key.
    /// </summary>
    private bool ApplySrtpAnswer(RtpEndpoint endpoint, byte[] sdp)
    {
        if (!_srtp.TryGetValue(endpoint, out var state)) return true;
        lock (state)
        {
            if (state.Ours is not { } ours) return true;
            var match = SdpCrypto.CryptoOf(sdp, out _).FirstOrDefault(c => c.Tag == ours.Tag && c.Suite == ours.Suite);
            if (match is null)
            {
                if (state.Policy == SrtpPolicy.Required) return false;
                state.Theirs = null;
                endpoint.SetSrtp(null, null);
                return true;
            }
            Apply(endpoint, state, match);
            return true;
        }
    }

    private static void Apply(RtpEndpoint endpoint, SrtpState state, SdesCrypto theirs)
    {
        // Unchanged keys keep the running contexts: their ROC and replay windows must survive a re-INVITE.
        if (endpoint.IsSecure && state.Theirs is { } t && t.ToString() == theirs.ToString() && state.Applied == state.Ours) return;
        state.Theirs = theirs;
        state.Applied = state.Ours;
        endpoint.SetSrtp(state.Ours!.CreateContext(), theirs.CreateContext());
    }

    private sealed class SrtpState
    {
        public SdesCrypto? Ours;
        public SdesCrypto? Theirs;
        public SdesCrypto? Applied;
        public SrtpPolicy Policy;
    }
}

/// <summary>SRTP negotiation log lines of the switch (event IDs 4011–4029, with the media engine's SRTP lines).</summary>
internal static partial class SrtpSwitchLog
{
    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "SRTP: {Device} requires SRTP, but {Peer} is not reached over TLS and keys never go into clear signalling; offering plain RTP")]
    public static partial void RequiredWithoutTls(ILogger log, string device, SipEndPoint peer);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "SRTP: offer from {Device} at {Peer} asks for SRTP, answered without a key ({Why})")]
    public static partial void OfferNotKeyed(ILogger log, string device, SipEndPoint peer, string why);
}
