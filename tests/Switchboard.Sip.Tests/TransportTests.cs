using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Tests;

/// <summary>A real transport and transaction layer on a loopback port, with a minimal transaction user that answers OPTIONS.</summary>
public sealed class TransportTests : IAsyncLifetime, ISipTransactionUser
{
    private SipTransactionLayer _layer = null!;
    private int _requests;

    public Task InitializeAsync()
    {
        _layer = new SipTransactionLayer(new SipTransport(new SipTransportOptions { Port = 0 }));
        _layer.Start(this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _layer.DisposeAsync();

    Task ISipTransactionUser.OnRequestAsync(ServerTransaction transaction)
    {
        Interlocked.Increment(ref _requests);
        return transaction.Request.Method == "INVITE" ? Task.CompletedTask : transaction.RespondAsync(200, toTag: "t1");
    }

    Task ISipTransactionUser.OnAckAsync(SipRequest ack, SipEndPoint source) => Task.CompletedTask;

    Task ISipTransactionUser.OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

    Task ISipTransactionUser.OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;

    [Fact]
    public async Task Every_malformed_message_is_answered_400_or_dropped_and_the_stack_keeps_serving()
    {
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)client.Client.LocalEndPoint!).Port;
        int n = 0, answered = 0;
        var wrong = new List<string>();
        var corpus = MalformedCorpus.Messages().ToList();
        Assert.True(corpus.Count >= 30);
        foreach (var (name, text, expect400) in corpus)
        {
            n++;
            var bytes = Encoding.Latin1.GetBytes(text.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{n}", n.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
            await client.SendAsync(bytes, _layer.Transport.LocalEndPoint);
            var reply = await ReceiveAsync(client, TimeSpan.FromMilliseconds(expect400 ? 3000 : 300));
            if (expect400)
            {
                if (reply is null || !(reply.StartsWith("SIP/2.0 400 ", StringComparison.Ordinal) || reply.StartsWith("SIP/2.0 505 ", StringComparison.Ordinal)))
                    wrong.Add($"{name}: expected 400, got {reply?.Split('\r')[0] ?? "nothing"}");
                else answered++;
            }
            else if (reply is not null)
            {
                wrong.Add($"{name}: expected to be dropped, got {reply.Split('\r')[0]}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(corpus.Count(c => c.Expect400), answered);
        // Two entries are not malformed for the parser: CRLF-only is an RFC 5626 keep-alive, and the stray 200 OK is well-formed but matches no transaction.
        Assert.Equal(corpus.Count - 2, _layer.Transport.MalformedCount);
        Assert.Equal(0, _requests);

        // Still serving.
        var options = $"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKok\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: ok\r\nCSeq: 1 OPTIONS\r\n\r\n";
        await client.SendAsync(Encoding.ASCII.GetBytes(options), _layer.Transport.LocalEndPoint);
        Assert.StartsWith("SIP/2.0 200 ", await ReceiveAsync(client, TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task A_retransmitted_request_is_absorbed_and_gets_the_same_response()
    {
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)client.Client.LocalEndPoint!).Port;
        var options = Encoding.ASCII.GetBytes($"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKre;rport\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: re\r\nCSeq: 1 OPTIONS\r\n\r\n");
        await client.SendAsync(options, _layer.Transport.LocalEndPoint);
        var first = await ReceiveAsync(client, TimeSpan.FromSeconds(3));
        await client.SendAsync(options, _layer.Transport.LocalEndPoint);
        var second = await ReceiveAsync(client, TimeSpan.FromSeconds(3));
        Assert.Equal(first, second);
        Assert.Contains($"rport={port}", first);
        Assert.Equal(1, _requests);
    }

    [Fact]
    public async Task Tcp_messages_are_framed_by_content_length_and_answered_on_the_same_connection()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _layer.Transport.LocalEndPoint.Port);
        var s = tcp.GetStream();
        string Msg(int i) => $"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp{i}\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: tcp{i}\r\nCSeq: {i} OPTIONS\r\nContent-Length: 3\r\n\r\nabc";
        await s.WriteAsync(Encoding.ASCII.GetBytes(Msg(1) + Msg(2)));
        var buffer = new byte[4096];
        var text = new StringBuilder();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (text.ToString().Split("SIP/2.0 200").Length < 3)
            text.Append(Encoding.ASCII.GetString(buffer, 0, await s.ReadAsync(buffer, cts.Token)));
        Assert.Contains("CSeq: 1 OPTIONS", text.ToString());
        Assert.Contains("CSeq: 2 OPTIONS", text.ToString());
    }

    private static async Task<string?> ReceiveAsync(UdpClient client, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var r = await client.ReceiveAsync(cts.Token);
            return Encoding.ASCII.GetString(r.Buffer);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
