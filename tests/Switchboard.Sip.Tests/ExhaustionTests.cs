using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Tests.Shared;

namespace Switchboard.Sip.Tests;

/// <summary>
/// Hostile peers on real loopback sockets: idle TCP connections from one address, silent connections, request floods
/// that would fill the transaction table, garbage floods that would fill the log. The attacker uses 127.0.0.2, the
/// legitimate client 127.0.0.3 (Linux routes all of 127/8 to loopback).
/// </summary>
public sealed class ExhaustionTests : ISipTransactionUser
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.3");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    Task ISipTransactionUser.OnRequestAsync(ServerTransaction transaction) => transaction.RespondAsync(200, toTag: "t1");

    Task ISipTransactionUser.OnAckAsync(SipRequest ack, SipEndPoint source) => Task.CompletedTask;

    Task ISipTransactionUser.OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

    Task ISipTransactionUser.OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;

    private SipTransactionLayer Start(SipTransportOptions options, CapturingLogger? log = null, int maxServerTransactions = 32_768)
    {
        options.Address = IPAddress.Any;
        options.Port = 0;
        var layer = new SipTransactionLayer(new SipTransport(options, log), log: log) { MaxServerTransactions = maxServerTransactions };
        layer.Start(this);
        return layer;
    }

    private static string Options(string branch, string via = "127.0.0.3:5060", string transport = "UDP") =>
        $"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {via};rport;branch=z9hG4bK{branch}\r\nFrom: <sip:a@h>;tag=1\r\n" +
        $"To: <sip:b@h>\r\nCall-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    private static async Task<Socket> ConnectFromAsync(IPAddress from, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(from, 0));
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    /// <summary>The first line the server sends, or null when it closed the connection.</summary>
    private static async Task<string?> ReadLineAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(Wait);
        var buffer = new byte[4096];
        int n;
        try
        {
            n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return null;
        }
        return n == 0 ? null : Encoding.ASCII.GetString(buffer, 0, n).Split("\r\n")[0];
    }

    [Fact]
    public async Task Idle_TCP_connections_from_one_address_cannot_lock_out_other_clients()
    {
        await using var layer = Start(new SipTransportOptions { MaxTcpConnections = 8, MaxTcpConnectionsPerSource = 4 });
        int port = layer.Transport.LocalEndPoint.Port;
        var idle = new List<Socket>();
        try
        {
            int refused = 0;
            for (int i = 0; i < 8; i++)
            {
                try
                {
                    idle.Add(await ConnectFromAsync(Attacker, port));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    refused++; // the server's reset for a refused connection can overtake the handshake's end
                }
            }
            // The connections beyond the attacker's share are closed at accept.
            for (int i = 4; i < idle.Count; i++) Assert.Null(await ReadLineAsync(idle[i]));
            Assert.Equal(4, idle.Count - 4 + refused);

            using var client = await ConnectFromAsync(Client, port);
            await client.SendAsync(Encoding.ASCII.GetBytes(Options("legit1", "127.0.0.3:5070", "TCP")), SocketFlags.None);
            Assert.Equal("SIP/2.0 200 OK", await ReadLineAsync(client));
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
    }

    [Fact]
    public async Task A_TCP_connection_that_sends_no_SIP_message_is_closed_after_the_first_message_timeout()
    {
        await using var layer = Start(new SipTransportOptions { TcpFirstMessageTimeout = TimeSpan.FromMilliseconds(300) });
        int port = layer.Transport.LocalEndPoint.Port;
        using var silent = await ConnectFromAsync(Attacker, port);
        using var trickle = await ConnectFromAsync(Attacker, port);
        // Half a message, never finished: the deadline counts from accept, not from the last byte.
        await trickle.SendAsync(Encoding.ASCII.GetBytes("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP"), SocketFlags.None);
        Assert.Null(await ReadLineAsync(silent));
        Assert.Null(await ReadLineAsync(trickle));

        // A connection that spoke SIP in time is served as before.
        using var client = await ConnectFromAsync(Client, port);
        await client.SendAsync(Encoding.ASCII.GetBytes(Options("legit2", "127.0.0.3:5070", "TCP")), SocketFlags.None);
        Assert.Equal("SIP/2.0 200 OK", await ReadLineAsync(client));
    }

    [Fact]
    public async Task A_request_flood_beyond_the_transaction_table_gets_503_with_Retry_After_and_keeps_no_state()
    {
        await using var layer = Start(new SipTransportOptions { EnableTcp = false }, maxServerTransactions: 50);
        using var udp = new UdpClient(new IPEndPoint(Attacker, 0));
        var codes = new Dictionary<string, int>();
        string? retryAfter = null;
        for (int i = 0; i < 120; i++)
        {
            await udp.SendAsync(Encoding.ASCII.GetBytes(Options("flood" + i)), new IPEndPoint(IPAddress.Loopback, layer.Transport.LocalEndPoint.Port));
            using var cts = new CancellationTokenSource(Wait);
            var reply = Encoding.ASCII.GetString((await udp.ReceiveAsync(cts.Token)).Buffer);
            var status = reply.Split("\r\n")[0];
            codes[status] = codes.GetValueOrDefault(status) + 1;
            if (status.StartsWith("SIP/2.0 503", StringComparison.Ordinal))
                retryAfter ??= reply.Split("\r\n").FirstOrDefault(l => l.StartsWith("Retry-After:", StringComparison.OrdinalIgnoreCase));
        }
        // Completed OPTIONS transactions stay for Timer J (5 s at the least here), so the table is full after 50.
        Assert.Equal(50, codes.GetValueOrDefault("SIP/2.0 200 OK"));
        Assert.Equal(70, codes.GetValueOrDefault("SIP/2.0 503 Service Unavailable"));
        Assert.Equal("Retry-After: 5", retryAfter);
        Assert.True(layer.ServerCount <= 50, $"{layer.ServerCount} server transactions live");
        Assert.Equal(70, layer.RefusedForLoad);
    }

    [Fact]
    public async Task Past_three_quarters_of_the_table_completed_non_INVITE_transactions_are_kept_for_T4_only()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var layer = new SipTransactionLayer(new SipTransport(new SipTransportOptions { Port = 0, EnableTcp = false }), time: time)
        { MaxServerTransactions = 8 };
        layer.Start(this);
        using var udp = new UdpClient(new IPEndPoint(Attacker, 0));
        for (int i = 0; i < 8; i++)
        {
            await udp.SendAsync(Encoding.ASCII.GetBytes(Options("j" + i)), new IPEndPoint(IPAddress.Loopback, layer.Transport.LocalEndPoint.Port));
            using var cts = new CancellationTokenSource(Wait);
            Assert.StartsWith("SIP/2.0 200 ", Encoding.ASCII.GetString((await udp.ReceiveAsync(cts.Token)).Buffer));
        }
        Assert.Equal(8, layer.ServerCount);
        // The 7th and 8th completed with more than 6 live: Timer J was T4 (5 s) for them, 64*T1 (32 s) for the first six.
        time.Advance(TimeSpan.FromSeconds(5.5));
        Assert.Equal(6, layer.ServerCount);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, layer.ServerCount);
    }

    [Fact]
    public async Task A_garbage_UDP_flood_writes_a_few_lines_and_one_summary_not_a_line_per_datagram()
    {
        var log = new CapturingLogger();
        var layer = Start(new SipTransportOptions { EnableTcp = false }, log);
        var server = new IPEndPoint(IPAddress.Loopback, layer.Transport.LocalEndPoint.Port);
        using var udp = new UdpClient(new IPEndPoint(Attacker, 0));
        var garbage = Encoding.Latin1.GetBytes("\u001b[2J\u001b[31mGARBAGE\r\nInjected: log line\r\n\r\n");
        for (int i = 0; i < 2000; i++) await udp.SendAsync(garbage, server);
        // The receive loop is sequential: once this request is answered, every datagram before it was handled.
        await udp.SendAsync(Encoding.ASCII.GetBytes(Options("after-flood", "127.0.0.2:5060")), server);
        using (var cts = new CancellationTokenSource(Wait))
        {
            while (!Encoding.ASCII.GetString((await udp.ReceiveAsync(cts.Token)).Buffer).StartsWith("SIP/2.0 200", StringComparison.Ordinal))
            {
            }
        }
        Assert.Equal(2000, layer.Transport.MalformedCount);
        await layer.DisposeAsync();

        Assert.Equal(3, log.Count("Malformed SIP message from"));
        Assert.Equal(1, log.Count("1997 more malformed SIP messages from 127.0.0.2 in the last 10 s"));
        // What the peer sent reaches the log escaped: no ESC, CR or LF to rewrite the terminal or forge lines.
        Assert.DoesNotContain(log.Lines, l => l.Text.Contains('\u001b') || l.Text.Contains('\r') || l.Text.Contains('\n'));
    }
}

/// <summary>Runs alone: it measures what the process allocates, which tests running beside it would blur.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;

/// <summary>Memory that idle peers can make the transport hold.</summary>
[Collection(nameof(MemoryMeasurement))]
public sealed class IdleConnectionMemoryTests
{
    [Fact]
    public async Task An_idle_TCP_connection_costs_a_small_buffer_not_the_largest_message()
    {
        var transport = new SipTransport(new SipTransportOptions { Address = IPAddress.Any, Port = 0, MaxTcpConnectionsPerSource = 1000 });
        await using var layer = new SipTransactionLayer(transport);
        layer.Start(new NoUser());
        var sockets = new List<Socket>();
        try
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 200; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, transport.LocalEndPoint.Port));
                sockets.Add(s);
            }
            for (var wait = System.Diagnostics.Stopwatch.StartNew(); transport.AcceptedTcpConnections < 200;)
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(10), $"{transport.AcceptedTcpConnections} of 200 accepted");
                await Task.Delay(10);
            }
            long perConnection = (GC.GetTotalAllocatedBytes(precise: true) - before) / 200;
            // Was 128 KiB each (twice the largest message); the client sockets and the accept path are in this figure too.
            Assert.True(perConnection < 32 * 1024, $"{perConnection} bytes allocated per idle connection");

            // A large message still fits: the buffer grows when a message needs it.
            var big = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.9:5060;branch=z9hG4bKbig\r\nFrom: <sip:a@h>;tag=1\r\n" +
                "To: <sip:b@h>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nContent-Type: text/plain\r\nContent-Length: 40000\r\n\r\n" + new string('x', 40_000);
            await sockets[0].SendAsync(System.Text.Encoding.ASCII.GetBytes(big), SocketFlags.None);
            var reply = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int n = await sockets[0].ReceiveAsync(reply, SocketFlags.None, cts.Token);
            Assert.StartsWith("SIP/2.0 200 ", System.Text.Encoding.ASCII.GetString(reply, 0, n));
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    private sealed class NoUser : ISipTransactionUser
    {
        public Task OnRequestAsync(ServerTransaction transaction) => transaction.RespondAsync(200, toTag: "t");

        public Task OnAckAsync(SipRequest ack, SipEndPoint source) => Task.CompletedTask;

        public Task OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

        public Task OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;
    }
}
