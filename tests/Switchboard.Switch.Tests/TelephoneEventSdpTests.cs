using System.Net;
using System.Text;
using Switchboard.Media.Codecs;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Calls;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests;

/// <summary>
/// telephone-event at the audio's clock (RFC 4733 §2.1): the switch offers one type per clock in use, answers with
/// the one of the chosen codec, and never re-maps an offered type to another clock.
/// </summary>
public sealed class TelephoneEventSdpTests
{
    private static string OpusOffer(string events) =>
        "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        $"m=audio 40200 RTP/AVP 111 0 {events}\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n" +
        (events.Contains("101", StringComparison.Ordinal) ? "a=rtpmap:101 telephone-event/8000\r\n" : "") +
        (events.Contains("102", StringComparison.Ordinal) ? "a=rtpmap:102 telephone-event/48000\r\n" : "") + "a=sendrecv\r\n";

    [Fact]
    public void The_switchs_offer_has_telephone_event_at_8000_and_at_48000_when_it_offers_Opus_and_an_8_kHz_codec()
    {
        var offer = Encoding.ASCII.GetString(SdpText.Offer("127.0.0.1", 40000, [AudioCodec.Opus, AudioCodec.G722, AudioCodec.Pcmu]));
        Assert.Contains("m=audio 40000 RTP/AVP 111 9 0 101 100\r\n", offer, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:101 telephone-event/8000\r\n", offer, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:100 telephone-event/48000\r\n", offer, StringComparison.Ordinal);
        var narrow = Encoding.ASCII.GetString(SdpText.Offer("127.0.0.1", 40000, [AudioCodec.Pcmu]));
        Assert.DoesNotContain("telephone-event/48000", narrow, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("101 102", 102, 48000)]
    [InlineData("102 101", 102, 48000)]
    [InlineData("101", 101, 8000)]
    public void An_Opus_offer_is_answered_with_the_telephone_event_at_48000_if_it_has_one_else_with_its_own_mapping(string events, int pt, int clock)
    {
        var media = SdpText.AudioOf(Encoding.ASCII.GetBytes(OpusOffer(events)), [AudioCodec.Opus, AudioCodec.Pcmu])!.Value;
        Assert.Equal((AudioCodec.Opus, 111, pt, clock), (media.Codec, media.PayloadType, media.DtmfPayloadType, media.DtmfClockRate));
        var answer = Encoding.ASCII.GetString(SdpText.Answer("127.0.0.1", 40002, media.Codec, media.DtmfPayloadType, media.PayloadType, media.DtmfClockRate));
        Assert.Contains($"m=audio 40002 RTP/AVP 111 {pt}\r\n", answer, StringComparison.Ordinal);
        Assert.Contains($"a=rtpmap:{pt} telephone-event/{clock}\r\n", answer, StringComparison.Ordinal);
        Assert.Single(answer.Split("\r\n"), l => l.Contains("telephone-event", StringComparison.Ordinal));
    }

    [Fact]
    public void A_PCMU_choice_takes_the_telephone_event_at_8000()
    {
        var media = SdpText.AudioOf(Encoding.ASCII.GetBytes(OpusOffer("101 102")), [AudioCodec.Pcmu])!.Value;
        Assert.Equal((AudioCodec.Pcmu, 101, 8000), (media.Codec, media.DtmfPayloadType, media.DtmfClockRate));
    }

    [Fact]
    public async Task On_the_wire_an_anchored_Opus_phone_that_maps_telephone_event_to_8000_gets_that_mapping_back_not_48000()
    {
        await using var f = new SwitchFixture(configure: o => o.MediaAnchor = MediaAnchorMode.Always);
        var udp = new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", "pw101", udp);
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", udp);
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);

        var calling = InviteAsync(caller, "101", Encoding.ASCII.GetBytes(OpusOffer("101")), "te-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        var toCallee = Encoding.ASCII.GetString(invite.Body);
        Assert.Contains("a=rtpmap:101 telephone-event/8000\r\n", toCallee, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:100 telephone-event/48000\r\n", toCallee, StringComparison.Ordinal);
        await callee.RespondAsync(invite, 200, from, RawPhone.Sdp("127.0.0.1", 40204));
        var ok = await calling;

        Assert.Equal(200, ok.StatusCode);
        var answer = Encoding.ASCII.GetString(ok.Body);
        Assert.Contains(" RTP/AVP 111 101\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:101 telephone-event/8000\r\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("telephone-event/48000", answer, StringComparison.Ordinal);
    }

    private static async Task<SipResponse> InviteAsync(RawPhone phone, string target, byte[] sdp, string callId)
    {
        SipRequest Build()
        {
            var r = phone.NewRequest("INVITE", $"sip:{target}@{phone.Server}", callId, "call" + phone.Device, $"<sip:{target}@{phone.Server.Address}>", $"<sip:{phone.Device}@{phone.Local}>");
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = sdp;
            return r;
        }
        var first = Build();
        await phone.SendAsync(first);
        var challenge = await phone.ResponseAsync(first);
        await phone.AckAsync(first, challenge);
        var second = Build();
        Assert.True(DigestClient.Answer(challenge, second, phone.Device, phone.Password));
        await phone.SendAsync(second);
        return await phone.ResponseAsync(second);
    }
}
