using Microsoft.Extensions.Time.Testing;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Tests;

/// <summary>
/// The transaction timers on a hand-moved clock over real loopback UDP: each test counts the datagrams a silent or
/// misbehaving peer sees, which is what RFC 3261 §17 prescribes (T1 = 500 ms, T2 = 4 s, T4 = 5 s).
/// </summary>
public sealed class TransactionTimerTests : IAsyncLifetime, ISipTransactionUser
{
    private static readonly TimeSpan T1 = TimeSpan.FromMilliseconds(500);
    private readonly FakeTimeProvider _time = new();
    private readonly UdpClient _peer = new(new IPEndPoint(IPAddress.Loopback, 0));
    private SipTransactionLayer _layer = null!;
    private int _ackTimeouts;
    private volatile ServerTransaction? _server;

    public Task InitializeAsync()
    {
        _layer = new SipTransactionLayer(new SipTransport(new SipTransportOptions { Port = 0, EnableTcp = false }), time: _time);
        _layer.Start(this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _peer.Dispose();
        await _layer.DisposeAsync();
    }

    async Task ISipTransactionUser.OnRequestAsync(ServerTransaction transaction)
    {
        transaction.AckTimeout += _ => Interlocked.Increment(ref _ackTimeouts);
        _server = transaction;
        await transaction.RespondAsync(486, toTag: "busy");
    }

    Task ISipTransactionUser.OnAckAsync(SipRequest ack, SipEndPoint source) => Task.CompletedTask;

    Task ISipTransactionUser.OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

    Task ISipTransactionUser.OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;

    private SipEndPoint PeerEndPoint => new(SipProtocol.Udp, (IPEndPoint)_peer.Client.LocalEndPoint!);

    private static SipRequest Request(string method)
    {
        var r = new SipRequest(method, "sip:peer@127.0.0.1");
        r.Add(SipHeaderNames.From, "<sip:me@127.0.0.1>;tag=me");
        r.Add(SipHeaderNames.To, "<sip:peer@127.0.0.1>");
        r.Add(SipHeaderNames.CallId, Guid.NewGuid().ToString("N"));
        r.Add(SipHeaderNames.CSeq, "1 " + method);
        r.Add(SipHeaderNames.MaxForwards, "70");
        return r;
    }

    private async Task<string> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var r = await _peer.ReceiveAsync(cts.Token);
        return Encoding.ASCII.GetString(r.Buffer);
    }

    /// <summary>Steps the clock by T1 at a time (never skipping a due timer) and returns the datagrams that went out.</summary>
    private async Task<int> StepAndCountAsync(TimeSpan total, string startLine)
    {
        int seen = 0;
        for (var t = TimeSpan.Zero; t < total; t += T1)
        {
            long before = _layer.Retransmissions + _layer.ResponseRetransmissions;
            _time.Advance(T1);
            long sent = _layer.Retransmissions + _layer.ResponseRetransmissions - before;
            for (int i = 0; i < sent; i++)
            {
                Assert.StartsWith(startLine, await ReceiveAsync());
                seen++;
            }
        }
        return seen;
    }

    [Fact]
    public async Task Invite_client_retransmits_on_Timer_A_doubling_and_times_out_on_Timer_B()
    {
        var txn = _layer.Send(Request("INVITE"), PeerEndPoint);
        Assert.StartsWith("INVITE ", await ReceiveAsync());
        Assert.Equal(ClientTransactionState.Calling, txn.State);
        // Timer A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 64*T1 = 32 s.
        int retransmitted = await StepAndCountAsync(T1 * 64, "INVITE ");
        Assert.Equal(6, retransmitted);
        var final = await txn.FinalResponse;
        Assert.Equal(408, final.StatusCode);
        Assert.Equal(ClientTransactionState.Terminated, txn.State);
        Assert.Equal(0, _layer.ClientCount);
    }

    [Fact]
    public async Task Non_invite_client_retransmits_on_Timer_E_capped_at_T2_and_times_out_on_Timer_F()
    {
        var txn = _layer.Send(Request("OPTIONS"), PeerEndPoint);
        Assert.StartsWith("OPTIONS ", await ReceiveAsync());
        Assert.Equal(ClientTransactionState.Trying, txn.State);
        // Timer E: 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s: 11.5 … 31.5; Timer F at 32 s.
        int retransmitted = await StepAndCountAsync(T1 * 64, "OPTIONS ");
        Assert.Equal(10, retransmitted);
        Assert.Equal(408, (await txn.FinalResponse).StatusCode);
        Assert.Equal(0, _layer.ClientCount);
    }

    [Fact]
    public async Task Non_invite_client_in_Proceeding_retransmits_every_T2_and_Timer_K_ends_Completed()
    {
        var request = Request("OPTIONS");
        var txn = _layer.Send(request, PeerEndPoint);
        var sent = await ReceiveAsync();
        var branch = sent.Split("\r\n").First(l => l.StartsWith("Via:", StringComparison.Ordinal));
        var local = _layer.Transport.LocalEndPoint;
        string Response(int code) =>
            $"SIP/2.0 {code.ToString(CultureInfo.InvariantCulture)} X\r\n{branch}\r\nFrom: <sip:me@127.0.0.1>;tag=me\r\nTo: <sip:peer@127.0.0.1>;tag=p\r\n" +
            $"Call-ID: {request.CallId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        await _peer.SendAsync(Encoding.ASCII.GetBytes(Response(100)), local);
        await WaitUntilAsync(() => txn.State == ClientTransactionState.Proceeding);
        // The first Timer E was armed at T1 before the 100 arrived; after it, retransmissions come every T2.
        int retransmitted = await StepAndCountAsync(TimeSpan.FromSeconds(8.5), "OPTIONS ");
        Assert.Equal(3, retransmitted); // 0.5, 4.5, 8.5
        await _peer.SendAsync(Encoding.ASCII.GetBytes(Response(200)), local);
        Assert.Equal(200, (await txn.FinalResponse).StatusCode);
        Assert.Equal(ClientTransactionState.Completed, txn.State);
        _time.Advance(TimeSpan.FromSeconds(5)); // Timer K = T4
        Assert.Equal(ClientTransactionState.Terminated, txn.State);
        Assert.Equal(0, _layer.ClientCount);
    }

    private string IncomingInvite(string branch) =>
        $"INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{PeerEndPoint.Address.Port.ToString(CultureInfo.InvariantCulture)};branch={branch}\r\n" +
        $"From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>\r\nCall-ID: {branch}\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";

    [Fact]
    public async Task Invite_server_retransmits_a_non_2xx_on_Timer_G_and_gives_up_on_Timer_H()
    {
        await _peer.SendAsync(Encoding.ASCII.GetBytes(IncomingInvite("z9hG4bKtimerg")), _layer.Transport.LocalEndPoint);
        Assert.StartsWith("SIP/2.0 100 ", await ReceiveAsync());
        Assert.StartsWith("SIP/2.0 486 ", await ReceiveAsync());
        // Timer G: 0.5, 1.5, 3.5, 7.5, then every T2: 11.5 … 31.5; Timer H at 32 s.
        int retransmitted = await StepAndCountAsync(T1 * 64, "SIP/2.0 486 ");
        Assert.Equal(10, retransmitted);
        Assert.Equal(1, _ackTimeouts);
        Assert.Equal(0, _layer.ServerCount);
    }

    [Fact]
    public async Task Invite_server_stops_Timer_G_on_the_ACK_and_absorbs_ACKs_until_Timer_I()
    {
        const string branch = "z9hG4bKtimeri";
        await _peer.SendAsync(Encoding.ASCII.GetBytes(IncomingInvite(branch)), _layer.Transport.LocalEndPoint);
        Assert.StartsWith("SIP/2.0 100 ", await ReceiveAsync());
        Assert.StartsWith("SIP/2.0 486 ", await ReceiveAsync());
        var ack = $"ACK sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{PeerEndPoint.Address.Port.ToString(CultureInfo.InvariantCulture)};branch={branch}\r\n" +
            "From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>;tag=busy\r\nCall-ID: " + branch + "\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n";
        await _peer.SendAsync(Encoding.ASCII.GetBytes(ack), _layer.Transport.LocalEndPoint);
        await WaitUntilAsync(() => _server?.State == ServerTransactionState.Confirmed);
        Assert.Equal(0, await StepAndCountAsync(TimeSpan.FromSeconds(4.5), "SIP/2.0 486 "));
        // Timer I (T4 = 5 s) since the ACK: 4.5 s passed plus one more step ends the Confirmed state.
        _time.Advance(T1 * 2);
        Assert.Equal(ServerTransactionState.Terminated, _server!.State);
        Assert.Equal(0, _layer.ServerCount);
        Assert.Equal(0, _ackTimeouts);
    }

    /// <summary>Waits for the receive loop to process a datagram (bounded, so a broken stack fails instead of hanging).</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public async Task Non_invite_server_answers_retransmissions_from_Completed_until_Timer_J()
    {
        var options = $"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{PeerEndPoint.Address.Port.ToString(CultureInfo.InvariantCulture)};branch=z9hG4bKtimerj\r\n" +
            "From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>\r\nCall-ID: timerj\r\nCSeq: 3 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        await _peer.SendAsync(Encoding.ASCII.GetBytes(options), _layer.Transport.LocalEndPoint);
        var first = await ReceiveAsync();
        Assert.StartsWith("SIP/2.0 486 ", first);
        Assert.Equal(ServerTransactionState.Completed, _server!.State);
        _time.Advance(T1 * 63);
        await _peer.SendAsync(Encoding.ASCII.GetBytes(options), _layer.Transport.LocalEndPoint);
        Assert.Equal(first, await ReceiveAsync());
        Assert.Equal(1, _layer.AbsorbedRequests);
        Assert.Equal(0, _layer.ResponseRetransmissions); // a non-INVITE final is only resent when asked
        _time.Advance(T1); // Timer J = 64*T1
        Assert.Equal(ServerTransactionState.Terminated, _server.State);
        Assert.Equal(0, _layer.ServerCount);
    }

    [Fact]
    public async Task Invite_client_acks_a_non_2xx_in_the_transaction_again_for_each_copy_until_Timer_D()
    {
        var request = Request("INVITE");
        var txn = _layer.Send(request, PeerEndPoint);
        var sent = await ReceiveAsync();
        var via = sent.Split("\r\n").First(l => l.StartsWith("Via:", StringComparison.Ordinal));
        var busy = Encoding.ASCII.GetBytes($"SIP/2.0 486 Busy Here\r\n{via}\r\nFrom: <sip:me@127.0.0.1>;tag=me\r\nTo: <sip:peer@127.0.0.1>;tag=p\r\n" +
            $"Call-ID: {request.CallId}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        await _peer.SendAsync(busy, _layer.Transport.LocalEndPoint);
        Assert.Equal(486, (await txn.FinalResponse).StatusCode);
        var ack = await ReceiveAsync();
        Assert.StartsWith("ACK sip:peer@127.0.0.1 SIP/2.0\r\n" + via + "\r\n", ack); // same branch as the INVITE
        Assert.Contains("To: <sip:peer@127.0.0.1>;tag=p", ack);
        Assert.Equal(ClientTransactionState.Completed, txn.State);
        await _peer.SendAsync(busy, _layer.Transport.LocalEndPoint);
        Assert.Equal(ack, await ReceiveAsync());
        _time.Advance(_layer.Timers.TimerD - TimeSpan.FromMilliseconds(1));
        Assert.Equal(ClientTransactionState.Completed, txn.State);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ClientTransactionState.Terminated, txn.State);
        Assert.Equal(0, _layer.ClientCount);
    }
}
