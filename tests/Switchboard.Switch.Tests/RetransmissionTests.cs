using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>
/// A hand-driven caller on a raw UDP socket: it retransmits its INVITE and withholds its ACK, as happens on a lossy
/// network, and checks what the switch puts on the wire.
/// </summary>
public sealed class RetransmissionTests
{
    [Fact]
    public async Task Retransmitted_invites_are_absorbed_and_the_200_is_retransmitted_until_the_ack()
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("builtin:uas", uasPort, null);
        using (var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", uasPort.ToString(CultureInfo.InvariantCulture), "-key", "expect", "200"))
            Assert.Equal(0, (await reg.ExitAsync()).Code);

        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int local = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
        var sw = f.Switch.LocalEndPoint;
        SipRequest Invite(int cseq, string branch)
        {
            var r = new SipRequest("INVITE", $"sip:101@127.0.0.1:{sw.Port}");
            r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{local};branch={branch};rport");
            r.Add(SipHeaderNames.From, "<sip:100@127.0.0.1>;tag=caller1");
            r.Add(SipHeaderNames.To, "<sip:101@127.0.0.1>");
            r.Add(SipHeaderNames.CallId, "retrans-test");
            r.Add(SipHeaderNames.CSeq, $"{cseq} INVITE");
            r.Add(SipHeaderNames.Contact, $"<sip:100@127.0.0.1:{local}>");
            r.Add(SipHeaderNames.MaxForwards, "70");
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"u8.ToArray();
            return r;
        }

        // First INVITE and its retransmission: the same 407 comes back, one transaction.
        var first = Invite(1, "z9hG4bKretrans1");
        await udp.SendAsync(first.ToBytes(), sw);
        var challenge = await ReceiveFinalAsync(udp, 1);
        await udp.SendAsync(first.ToBytes(), sw);
        var again = await ReceiveFinalAsync(udp, 1);
        Assert.Equal(407, challenge.StatusCode);
        Assert.Equal(challenge.To.Tag, again.To.Tag);
        var ack = new SipRequest("ACK", first.Uri);
        ack.Add(SipHeaderNames.Via, first[SipHeaderNames.Via]!);
        ack.Add(SipHeaderNames.From, first[SipHeaderNames.From]!);
        ack.Add(SipHeaderNames.To, challenge[SipHeaderNames.To]!);
        ack.Add(SipHeaderNames.CallId, first.CallId);
        ack.Add(SipHeaderNames.CSeq, "1 ACK");
        await udp.SendAsync(ack.ToBytes(), sw);

        // Authenticated INVITE, sent twice: one call, answered by the sipp phone.
        var second = Invite(2, "z9hG4bKretrans2");
        Assert.True(DigestClient.Answer(challenge, second, "100", "pw100"));
        await udp.SendAsync(second.ToBytes(), sw);
        await udp.SendAsync(second.ToBytes(), sw);
        var ok = await ReceiveFinalAsync(udp, 2);
        Assert.Equal(200, ok.StatusCode);
        Assert.Single(f.Model.Calls);

        // No ACK yet: the 200 must keep coming (T1 = 100 ms here, doubling).
        int retransmitted = 0;
        using (var window = new CancellationTokenSource(TimeSpan.FromSeconds(2.5)))
        {
            try
            {
                while (true)
                {
                    var r = await udp.ReceiveAsync(window.Token);
                    SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
                    if (m is SipResponse { StatusCode: 200 } r200 && r200.CSeq.Number == 2) retransmitted++;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        Assert.True(retransmitted >= 2, $"only {retransmitted} retransmissions of the 200");

        var ack2 = new SipRequest("ACK", $"sip:101@127.0.0.1:{sw.Port}");
        ack2.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKack2;rport");
        ack2.Add(SipHeaderNames.From, "<sip:100@127.0.0.1>;tag=caller1");
        ack2.Add(SipHeaderNames.To, ok[SipHeaderNames.To]!);
        ack2.Add(SipHeaderNames.CallId, "retrans-test");
        ack2.Add(SipHeaderNames.CSeq, "2 ACK");
        await udp.SendAsync(ack2.ToBytes(), sw);
        // Let the ACK be processed (the machine may be busy with other test classes), then drop what was already sent.
        await Task.Delay(700);
        while (udp.Available > 0) await udp.ReceiveAsync();
        // After the ACK: no more 200s for longer than the current retransmit interval (100, 200, … 1,600 ms by now).
        int after = 0;
        using (var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(3.5)))
        {
            try
            {
                while (true)
                {
                    var r = await udp.ReceiveAsync(quiet.Token);
                    SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
                    if (m is SipResponse { StatusCode: 200 } r200 && r200.CSeq.Number == 2) after++;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        Assert.Equal(0, after);

        var bye = new SipRequest("BYE", $"sip:101@127.0.0.1:{sw.Port}");
        bye.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKbye;rport");
        bye.Add(SipHeaderNames.From, "<sip:100@127.0.0.1>;tag=caller1");
        bye.Add(SipHeaderNames.To, ok[SipHeaderNames.To]!);
        bye.Add(SipHeaderNames.CallId, "retrans-test");
        bye.Add(SipHeaderNames.CSeq, "3 BYE");
        await udp.SendAsync(bye.ToBytes(), sw);
        Assert.Equal(200, (await ReceiveFinalAsync(udp, 3)).StatusCode);
        Assert.Equal(0, (await uas.ExitAsync()).Code);
        Assert.Empty(f.Model.Calls);
    }

    /// <summary>The next final response to the request with CSeq <paramref name="cseq"/>; stale retransmissions of earlier ones are skipped.</summary>
    private static async Task<SipResponse> ReceiveFinalAsync(UdpClient udp, uint cseq)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var r = await udp.ReceiveAsync(cts.Token);
            SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
            if (m is SipResponse resp && resp.StatusCode >= 200 && resp.CSeq.Number == cseq) return resp;
        }
    }
}
