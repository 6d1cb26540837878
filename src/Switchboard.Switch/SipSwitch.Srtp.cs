using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Switchboard.Media;
using Switchboard.Media.Srtp;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;

namespace Switchboard.Switch;

/// <summary>
/// SRTP with SDES keys on the switch's own media endpoints. A key goes into SDP only towards a peer reached over TLS
/// (RFC 4568 §8.3: the body is not otherwise protected), and only when the device's or trunk's policy is not off.
/// Offers from the switch carry one AES_CM_128_HMAC_SHA1_80 key: in RTP/SAVP when the policy is required, in RTP/AVP
/// (best effort, as phones set to "optional" offer it) otherwise, then with RTP/SAVP and the same key as an RFC 5939
/// potential configuration too. A phone's offer with a usable key is answered with
/// the switch's own key under the same tag and suite; so is an RFC 5939 potential RTP/SAVP configuration with such a
/// key (a=pcfg with a=acap crypto), answered in RTP/SAVP with a=acfg.
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

    /// <summary>
    /// Why an SDP offer from a peer whose policy is required cannot be taken, or <see cref="UnkeyedOffer.None"/> when it
    /// can (or the policy is not required, or the request carries no offer). Keys come only over TLS, so a keyed offer
    /// on UDP or TCP is as unusable as one without a key.
    /// </summary>
    private UnkeyedOffer RequiredOfferProblem(SipEndPoint peer, string device, byte[] offer, out SdesRejection declined)
    {
        declined = SdesRejection.None;
        if (offer.Length == 0 || SrtpPolicyFor(peer, device) != SrtpPolicy.Required) return UnkeyedOffer.None;
        if (peer.Protocol != SipProtocol.Tls) return UnkeyedOffer.NotOverTls;
        if (SdpCrypto.CryptoOf(offer, out declined).Count > 0 || SdpCapNeg.PotentialSrtp(offer) is not null) return UnkeyedOffer.None;
        return SdpCrypto.HasAnyKey(offer) ? UnkeyedOffer.NoUsableKey : UnkeyedOffer.NoCrypto;
    }

    /// <summary>
    /// Refuses an INVITE (new or re-INVITE) whose offer a required policy does not allow: 488 with a Warning that says
    /// why (RFC 3261 §20.43, 399: the reason is not one of the SDP warn-codes), before any call, endpoint or key is
    /// set up or changed, so a re-INVITE refused this way leaves the call as it was. False when the offer may be taken.
    /// </summary>
    private async Task<bool> RefuseUnkeyedOfferAsync(ServerTransaction txn, SipEndPoint peer, string device, bool reinvite)
    {
        var problem = RequiredOfferProblem(peer, device, txn.Request.Body, out var declined);
        if (problem == UnkeyedOffer.None) return false;
        var why = problem switch
        {
            UnkeyedOffer.NotOverTls => $"keys are exchanged only over TLS, this offer came over {peer.Protocol.ToString().ToUpperInvariant()}",
            UnkeyedOffer.NoCrypto => "the offer has no a=crypto key (plain RTP/AVP)",
            _ => $"no a=crypto key of the offer is usable ({declined})",
        };
        SrtpSwitchLog.RequiredOfferRefused(_log, device, peer, reinvite ? "re-INVITE" : "INVITE", problem, why);
        var refusal = SipResponse.For(txn.Request, 488, "Not Acceptable Here (SRTP required)", reinvite ? null : SipTransactionLayer.NewToken());
        refusal.Add(SipHeaderNames.Warning, $"399 {HostFor(peer)} \"SRTP is required for {WarningText(device)}: {why}\"");
        await txn.RespondAsync(refusal).ConfigureAwait(false);
        return true;
    }

    // A Warning's text is a quoted-string (RFC 3261 §25.1): the device name is the only part not written here.
    private static string WarningText(string s) =>
        string.Create(s.Length, s, static (span, src) =>
        {
            for (int i = 0; i < src.Length; i++) span[i] = src[i] is '"' or '\\' || char.IsControl(src[i]) || src[i] > '~' ? '?' : src[i];
        });

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
            return policy == SrtpPolicy.Required ? SdpCrypto.WithCrypto(offer, state.Ours, secureProfile: true) : SdpCrypto.WithCryptoAndCapability(offer, state.Ours);
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
        string? acfg = null;
        if (offered.Count == 0 && SdpCapNeg.PotentialSrtp(remoteOffer) is { } potential)
        {
            // RFC 5939: the phone's potential RTP/SAVP configuration is taken, so the answer is RTP/SAVP and names it.
            offered = [potential.Key];
            secure = true;
            acfg = potential.Acfg;
        }
        if (policy == SrtpPolicy.Off || peer.Protocol != SipProtocol.Tls || offered.Count == 0)
        {
            if (secure || SdpCrypto.HasAnyKey(remoteOffer))
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
            return SdpCrypto.WithCrypto(answer, ours, secure, acfg);
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

/// <summary>Why an offer under SRTP policy required was refused (the reason in log event 4020).</summary>
internal enum UnkeyedOffer
{
    /// <summary>The offer may be taken.</summary>
    None,

    /// <summary>The peer is not reached over TLS, so no key can be exchanged with it.</summary>
    NotOverTls,

    /// <summary>The offer carries no a=crypto attribute.</summary>
    NoCrypto,

    /// <summary>Every a=crypto attribute of the offer was declined (suite, key, MKI, session parameters).</summary>
    NoUsableKey,
}

/// <summary>SRTP negotiation log lines of the switch (event IDs 4011–4029, with the media engine's SRTP lines).</summary>
internal static partial class SrtpSwitchLog
{
    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "SRTP: {Device} requires SRTP, but {Peer} is not reached over TLS and keys never go into clear signalling; offering plain RTP")]
    public static partial void RequiredWithoutTls(ILogger log, string device, SipEndPoint peer);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "SRTP: offer from {Device} at {Peer} asks for SRTP, answered without a key ({Why})")]
    public static partial void OfferNotKeyed(ILogger log, string device, SipEndPoint peer, string why);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Warning, Message = "SRTP: {Device} at {Peer} requires SRTP; its {Request} was refused with 488 ({Problem}: {Why})")]
    public static partial void RequiredOfferRefused(ILogger log, string device, SipEndPoint peer, string request, UnkeyedOffer problem, string why);
}
