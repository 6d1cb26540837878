using System.Text;
using Switchboard.Media.Srtp;
using Switchboard.Switch.Calls;

namespace Switchboard.Switch.Tests;

/// <summary>RFC 5939 potential configurations with SDES keys, as liblinphone offers SRTP "if the answerer can".</summary>
public sealed class SdpCapNegTests
{
    private const string Key80 = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    private const string Key32 = "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj";

    private static byte[] Offer(string capabilities) => Encoding.ASCII.GetBytes(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        "m=audio 20130 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" + capabilities + "a=sendrecv\r\n");

    [Fact]
    public void The_preferred_rtp_savp_configuration_with_a_usable_key_is_taken_and_named_for_acfg()
    {
        var offer = Offer("a=tcap:1 RTP/SAVPF RTP/SAVP\r\n" +
            $"a=acap:1 crypto:1 AES_256_CM_HMAC_SHA1_80 {Key80}\r\na=acap:2 crypto:2 AES_CM_128_HMAC_SHA1_32 {Key32}\r\n" +
            "a=pcfg:1 t=1 a=1|2\r\na=pcfg:2 t=2 a=1|2\r\n");
        var (key, acfg) = SdpCapNeg.PotentialSrtp(offer)!.Value;
        // Configuration 1 wants RTP/SAVPF (no feedback here); in 2 the AES_256 key is not spoken, the second alternative is.
        Assert.Equal((2, SrtpSuite.AesCm128HmacSha1_32), (key.Tag, key.Suite));
        Assert.Equal("2 t=2 a=2", acfg);
    }

    [Fact]
    public void Session_level_capabilities_count_and_a_mandatory_attribute_the_switch_does_not_know_rules_a_configuration_out()
    {
        var offer = Encoding.ASCII.GetBytes(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
            $"a=tcap:5 RTP/SAVP\r\na=acap:7 crypto:1 AES_CM_128_HMAC_SHA1_80 {Key80}\r\n" +
            "m=audio 20130 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=acap:8 rtcp-mux\r\n" +
            "a=pcfg:1 t=5 a=8,7\r\na=pcfg:3 t=5 a=[8],7\r\n");
        Assert.Equal("3 t=5 a=7", SdpCapNeg.PotentialSrtp(offer)!.Value.Acfg);
    }

    [Theory]
    [InlineData("a=tcap:1 RTP/SAVP\r\na=pcfg:1 t=1\r\n")]
    [InlineData("a=tcap:1 RTP/AVPF\r\na=acap:1 crypto:1 AES_CM_128_HMAC_SHA1_80 " + Key80 + "\r\na=pcfg:1 t=1 a=1\r\n")]
    [InlineData("a=tcap:1 RTP/SAVP\r\na=acap:1 crypto:1 AES_CM_128_HMAC_SHA1_80 " + Key80 + "\r\na=pcfg:1 t=1 a=-m:1\r\n")]
    [InlineData("a=tcap:1 RTP/SAVP\r\na=acap:1 crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short\r\na=pcfg:1 t=1 a=1\r\n")]
    [InlineData("a=tcap:x RTP/SAVP\r\na=acap:1 crypto:1 AES_CM_128_HMAC_SHA1_80 " + Key80 + "\r\na=pcfg:1 t=1 a=1\r\n")]
    [InlineData("")]
    public void No_srtp_configuration_without_an_rtp_savp_transport_and_a_usable_key(string capabilities) =>
        Assert.Null(SdpCapNeg.PotentialSrtp(Offer(capabilities)));
}
