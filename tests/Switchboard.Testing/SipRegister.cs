using System.Net;
using System.Net.Sockets;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;

namespace Switchboard.Testing;

/// <summary>A minimal registering phone over UDP: REGISTER, answer the digest challenge, return the final status code.</summary>
public static class SipRegister
{
    public static async Task<int> RegisterAsync(int port, string user, string password)
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int local = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
        var server = new IPEndPoint(IPAddress.Loopback, port);
        var callId = Guid.NewGuid().ToString("N");
        SipRequest Build(int cseq)
        {
            var r = new SipRequest("REGISTER", $"sip:127.0.0.1:{port}");
            r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{Guid.NewGuid():N};rport");
            r.Add(SipHeaderNames.From, $"<sip:{user}@127.0.0.1:{port}>;tag=t{local}");
            r.Add(SipHeaderNames.To, $"<sip:{user}@127.0.0.1:{port}>");
            r.Add(SipHeaderNames.CallId, callId);
            r.Add(SipHeaderNames.CSeq, $"{cseq} REGISTER");
            r.Add(SipHeaderNames.Contact, $"<sip:{user}@127.0.0.1:{local}>");
            r.Add(SipHeaderNames.Expires, "600");
            r.Add(SipHeaderNames.MaxForwards, "70");
            return r;
        }
        var challenge = await ExchangeAsync(udp, server, Build(1));
        if (challenge.StatusCode != 401) return challenge.StatusCode;
        var second = Build(2);
        DigestClient.Answer(challenge, second, user, password);
        return (await ExchangeAsync(udp, server, second)).StatusCode;
    }

    private static async Task<SipResponse> ExchangeAsync(UdpClient udp, IPEndPoint server, SipRequest request)
    {
        await udp.SendAsync(request.ToBytes(), server);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var r = await udp.ReceiveAsync(cts.Token);
            SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
            if (m is SipResponse resp && resp.StatusCode >= 200) return resp;
        }
    }
}
