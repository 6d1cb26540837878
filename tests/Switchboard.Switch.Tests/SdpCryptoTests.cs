using System.Net;
using System.Text;
using Switchboard.Media.Srtp;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;

namespace Switchboard.Switch.Tests;

/// <summary>The crypto part of SDP on a description as baresip 1.0 sends it with mediaenc=srtp, and the key guard of a leg.</summary>
public sealed class SdpCryptoTests
{
    private const string BaresipOffer =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        "m=audio 20130 RTP/SAVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
        "a=fmtp:101 0-15\r\na=sendrecv\r\n" +
        "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n" +
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n" +
        "a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n" +
        "m=video 0 RTP/SAVP 96\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void The_audio_streams_keys_are_read_in_order_and_the_unknown_suite_is_named()
    {
        var sdp = B(BaresipOffer);
        Assert.True(SdpCrypto.IsSecureProfile(sdp));
        var keys = SdpCrypto.CryptoOf(sdp, out var declined);
        Assert.Equal([1, 2], keys.Select(k => k.Tag));
        Assert.Equal(SrtpSuite.AesCm128HmacSha1_32, keys[0].Suite);
        Assert.Equal(SdesRejection.UnknownSuite, declined);
    }

    [Fact]
    public void An_answer_gets_one_key_in_the_offers_profile_and_a_plain_one_none()
    {
        var key = SdesCrypto.Generate(2, SrtpSuite.AesCm128HmacSha1_80);
        var keyed = Encoding.ASCII.GetString(SdpCrypto.WithCrypto(B(BaresipOffer), key, secureProfile: true));
        Assert.Contains("m=audio 20130 RTP/SAVP 0 8 101\r\na=crypto:" + key + "\r\n", keyed);
        Assert.Single(keyed.Split("\r\n"), l => l.StartsWith("a=crypto:", StringComparison.Ordinal) && !l.StartsWith("a=crypto:9", StringComparison.Ordinal));
        var plain = Encoding.ASCII.GetString(SdpCrypto.WithoutCrypto(B(BaresipOffer)));
        Assert.Contains("m=audio 20130 RTP/AVP 0 8 101\r\n", plain);
        Assert.False(SdpCrypto.HasCrypto(B(plain)));
    }

    [Theory]
    [InlineData(SipProtocol.Udp, false)]
    [InlineData(SipProtocol.Tcp, false)]
    [InlineData(SipProtocol.Tls, true)]
    public void A_leg_sends_keys_only_over_tls(SipProtocol protocol, bool keysKept)
    {
        var peer = new SipEndPoint(protocol, new IPEndPoint(IPAddress.Loopback, 5070));
        var leg = new Leg(SipDialog.ForOutgoing("c1@switchboard", "t1", "sip:a@127.0.0.1", "sip:b@127.0.0.1", "sip:b@127.0.0.1:5070", peer, null), "101");
        var sent = Encoding.ASCII.GetString(leg.Outgoing(B(BaresipOffer)));
        Assert.Equal(keysKept, sent.Contains("a=crypto:1 ", StringComparison.Ordinal));
        Assert.Equal(keysKept, sent.Contains("RTP/SAVP 0 8 101", StringComparison.Ordinal));
    }

    // liblinphone with capability negotiation (RFC 5939) offers its key as an attribute capability of a potential
    // RTP/SAVP configuration, next to a plain RTP/AVP stream.
    private const string CapNegOffer =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        "a=acap:9 crypto:9 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n" +
        "m=audio 20130 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
        "a=tcap:1 RTP/SAVP\r\na=acap:1 crypto:1 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n" +
        "a=pcfg:1 t=1 a=1\r\na=sendrecv\r\n";

    [Theory]
    [InlineData(SipProtocol.Udp, false)]
    [InlineData(SipProtocol.Tcp, false)]
    [InlineData(SipProtocol.Tls, true)]
    public void A_key_offered_as_an_rfc5939_capability_goes_only_over_tls_too(SipProtocol protocol, bool keysKept)
    {
        var peer = new SipEndPoint(protocol, new IPEndPoint(IPAddress.Loopback, 5070));
        var leg = new Leg(SipDialog.ForOutgoing("c2@switchboard", "t2", "sip:a@127.0.0.1", "sip:b@127.0.0.1", "sip:b@127.0.0.1:5070", peer, null), "101");
        var sent = Encoding.ASCII.GetString(leg.Outgoing(B(CapNegOffer)));
        Assert.Equal(keysKept, sent.Contains("inline:", StringComparison.Ordinal));
        Assert.Contains("m=audio 20130 RTP/AVP 0 101\r\n", sent, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:0 PCMU/8000\r\n", sent, StringComparison.Ordinal);
    }
}
