using System.Net;
using System.Net.Sockets;
using Switchboard.Sip.Messages;

namespace Switchboard.Switch.Tests;

/// <summary>
/// A SIP client on a raw UDP socket bound to a chosen loopback address (127.0.0.1 for the phone, 127.0.0.2 for an
/// attacker elsewhere): sends requests exactly as built and returns the final response, so a test can capture a
/// request and play it again.
/// </summary>
internal sealed class RawPhone : IDisposable
{
    private readonly UdpClient _udp;
    private readonly IPEndPoint _server;

    public RawPhone(string address, int serverPort)
    {
        _udp = new UdpClient(new IPEndPoint(IPAddress.Parse(address), 0));
        _server = new IPEndPoint(IPAddress.Loopback, serverPort);
        Address = address;
        Port = ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;
    }

    public string Address { get; }

    public int Port { get; }

    public string Server => $"127.0.0.1:{_server.Port}";

    /// <summary>A request from this socket: new branch, the given Call-ID and CSeq.</summary>
    public SipRequest Request(string method, string uri, string fromUser, string toUser, string callId, int cseq)
    {
        var r = new SipRequest(method, uri);
        r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {Address}:{Port};branch=z9hG4bK{Guid.NewGuid():N};rport");
        r.Add(SipHeaderNames.From, $"<sip:{fromUser}@{Server}>;tag=f{Port}");
        r.Add(SipHeaderNames.To, $"<sip:{toUser}@{Server}>");
        r.Add(SipHeaderNames.CallId, callId);
        r.Add(SipHeaderNames.CSeq, $"{cseq} {method}");
        r.Add(SipHeaderNames.MaxForwards, "70");
        return r;
    }

    /// <summary>Sends and waits for the final response (an INVITE's non-2xx final is ACKed, as RFC 3261 §17.1.1.3 asks).</summary>
    public async Task<SipResponse> SendAsync(SipRequest request)
    {
        await _udp.SendAsync(request.ToBytes(), _server);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var r = await _udp.ReceiveAsync(cts.Token);
            SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
            if (m is not SipResponse resp || resp.StatusCode < 200 || resp.CallId != request.CallId || resp.CSeq.Number != request.CSeq.Number) continue;
            if (request.Method == "INVITE" && resp.StatusCode >= 300)
            {
                var ack = new SipRequest("ACK", request.Uri);
                ack.Add(SipHeaderNames.Via, request[SipHeaderNames.Via]!);
                ack.Add(SipHeaderNames.From, request[SipHeaderNames.From]!);
                ack.Add(SipHeaderNames.To, resp[SipHeaderNames.To]!);
                ack.Add(SipHeaderNames.CallId, request.CallId);
                ack.Add(SipHeaderNames.CSeq, $"{request.CSeq.Number} ACK");
                ack.Add(SipHeaderNames.MaxForwards, "70");
                await _udp.SendAsync(ack.ToBytes(), _server);
            }
            return resp;
        }
    }

    public void Dispose() => _udp.Dispose();
}
