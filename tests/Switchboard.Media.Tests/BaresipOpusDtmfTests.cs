using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Media.Codecs;
using Switchboard.Media.Dtmf;
using Switchboard.Media.Rtp;
using Switchboard.Sip.Messages;
using Switchboard.Testing;
using Switchboard.Testing.Phones;

namespace Switchboard.Media.Tests;

/// <summary>
/// DTMF from a real baresip phone on Opus (Debian's opus.so) into the engine: baresip 1.0 maps telephone-event/8000
/// next to opus/48000 in its SDP but counts event durations on the 48 kHz audio clock (960 per 20 ms, RFC 4733 §2.1).
/// The test answers baresip's INVITE itself and taps its RTP on the way to an engine endpoint, so it knows the
/// duration baresip sent and checks what a PCMU member of the same mix receives.
/// </summary>
public sealed class BaresipOpusDtmfTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-opusdtmf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_digit_from_baresip_on_Opus_is_recognised_and_reaches_a_PCMU_member_with_its_duration_on_the_8_kHz_clock()
    {
        using var guard = new CancellationTokenSource(Guard);
        using var sip = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var tap = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await using var engine = new MediaEngine(new MediaEngineOptions());
        await using var opusEndpoint = engine.CreateEndpoint();
        await using var pcmuEndpoint = engine.CreateEndpoint();
        using var pcmu = new TestPhone(AudioCodec.Pcmu, 440);
        await using var phone = await Baresip.StartAsync("opusdtmf", _dir, "<sip:opus@127.0.0.1>;regint=0;answermode=manual", "sine:1000", codecs: ["opus.so"]);

        await phone.CommandAsync("dial", $"sip:switch@127.0.0.1:{((IPEndPoint)sip.Client.LocalEndPoint!).Port}");
        var (invite, from) = await ReceiveInviteAsync(sip, guard.Token);
        var offer = Encoding.ASCII.GetString(invite.Body);
        Assert.Contains("telephone-event/8000", offer, StringComparison.Ordinal);
        int opusType = PayloadTypeOf(offer, "opus/48000"), eventType = PayloadTypeOf(offer, "telephone-event/8000");

        // The switch's answer to such an offer: its own mapping back (telephone-event/8000), media at the tap.
        var tapPort = ((IPEndPoint)tap.Client.LocalEndPoint!).Port;
        var ok = SipResponse.For(invite, 200, toTag: "engine");
        ok.Add(SipHeaderNames.Contact, $"<sip:switch@{sip.Client.LocalEndPoint}>");
        ok.Add(SipHeaderNames.ContentType, "application/sdp");
        ok.Body = Encoding.ASCII.GetBytes("v=0\r\no=engine 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
            $"m=audio {tapPort} RTP/AVP {opusType} {eventType}\r\na=rtpmap:{opusType} opus/48000/2\r\na=rtpmap:{eventType} telephone-event/8000\r\n" +
            $"a=fmtp:{eventType} 0-15\r\na=sendrecv\r\n");
        await sip.SendAsync(ok.ToBytes(), from, guard.Token);

        opusEndpoint.SetRemote(new IPEndPoint(IPAddress.Loopback, tapPort), AudioCodec.Opus, opusType, eventType);
        pcmuEndpoint.SetRemote(pcmu.LocalEndPoint, AudioCodec.Pcmu, pcmu.PayloadType, 101);
        var detected = new ConcurrentQueue<char>();
        opusEndpoint.DtmfReceived += detected.Enqueue;
        await using var conference = engine.CreateConference();
        conference.Add(opusEndpoint);
        conference.Add(pcmuEndpoint);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
        var sent = new ConcurrentQueue<TelephoneEvent>();
        var tapping = TapAsync(tap, opusEndpoint.LocalEndPoint, eventType, sent, stop.Token);
        var receiving = pcmu.ReceiveAsync(stop.Token);
        try
        {
            await phone.WaitEventAsync("CALL_ESTABLISHED");
            await phone.CommandAsync("sndcode", "5");
            await Poll.UntilAsync(() => !sent.IsEmpty, "baresip's first telephone-event", 30);
            await phone.CommandAsync("sndcode", "");
            await Poll.UntilAsync(() => pcmu.ReceivedEvents().Count(e => e.Event.End) >= 3 && !detected.IsEmpty, "the digit at the PCMU phone", 30);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(tapping, receiving);
        }

        Assert.Equal(['5'], detected);
        var baresipEnd = sent.Last(e => e.End);
        // baresip counts 960 per 20 ms: its durations are on Opus's 48 kHz clock, not on the 8000 its rtpmap names.
        Assert.All(sent.Where(e => !e.End), e => Assert.Equal(0, e.Duration % 960));
        var atPcmu = pcmu.ReceivedEvents().Last(e => e.Event.End).Event;
        var eightKhz = Math.Clamp(baresipEnd.Duration * 8000 / 48000, 480, 16000);
        Assert.Equal((5, (eightKhz + 159) / 160 * 160), (atPcmu.Event, (int)atPcmu.Duration));
    }

    /// <summary>The payload type an rtpmap line of <paramref name="sdp"/> gives <paramref name="encoding"/> ("opus/48000").</summary>
    private static int PayloadTypeOf(string sdp, string encoding)
    {
        foreach (var line in sdp.Split("\r\n"))
        {
            if (!line.StartsWith("a=rtpmap:", StringComparison.Ordinal)) continue;
            var fields = line[9..].Split(' ');
            if (fields.Length == 2 && fields[1].StartsWith(encoding, StringComparison.OrdinalIgnoreCase))
                return int.Parse(fields[0], CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"no {encoding} in baresip's offer:\n{sdp}");
    }

    private static async Task<(SipRequest Invite, IPEndPoint From)> ReceiveInviteAsync(UdpClient sip, CancellationToken token)
    {
        while (true)
        {
            var r = await sip.ReceiveAsync(token);
            if (SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _) == SipParseStatus.Complete && m is SipRequest { Method: "INVITE" } invite)
                return (invite, r.RemoteEndPoint);
        }
    }

    private static TelephoneEvent? EventOf(byte[] datagram, int eventType) =>
        RtpPacket.TryParse(datagram, out var packet) && packet.PayloadType == eventType && TelephoneEvent.TryParse(packet.Payload, out var tone) ? tone : null;

    /// <summary>Passes baresip's RTP on to the engine's endpoint and keeps the telephone-events it carried.</summary>
    private static async Task TapAsync(UdpClient tap, IPEndPoint engine, int eventType, ConcurrentQueue<TelephoneEvent> events, CancellationToken token)
    {
        try
        {
            while (true)
            {
                var r = await tap.ReceiveAsync(token);
                if (r.RemoteEndPoint.Port == engine.Port) continue; // the engine's packets to baresip: not needed here
                if (EventOf(r.Buffer, eventType) is { } tone) events.Enqueue(tone);
                await tap.SendAsync(r.Buffer, engine, token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
