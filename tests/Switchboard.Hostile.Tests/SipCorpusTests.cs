using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Hostile.Tests.Support;
using Switchboard.Sip.Messages;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// Mutated SIP requests (every method the switch handles, with SDP bodies) to the built-in switch over UDP and TCP.
/// Whatever the switch sends back must be a well-formed SIP response; an OPTIONS must still be answered after every
/// batch, and the IP interface must still answer <c>Status 100</c>.
/// </summary>
public sealed class SipCorpusTests : IAsyncLifetime
{
    private HostileServer _server = null!;
    private int _probes;

    public async Task InitializeAsync() => _server = await HostileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Mutated_udp_and_tcp_messages_get_well_formed_answers_and_the_switch_keeps_serving()
    {
        var m = new Mutator(5060);
        int inputs = 0;
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
        var sip = new IPEndPoint(IPAddress.Loopback, _server.SipPort);
        var responses = new ConcurrentQueue<byte[]>();
        using var stop = new CancellationTokenSource();
        var receiver = Task.Run(async () =>
        {
            try
            {
                while (true) responses.Enqueue((await udp.ReceiveAsync(stop.Token)).Buffer);
            }
            catch (OperationCanceledException)
            {
            }
        });

        for (int n = 0; n < 2_400; n++)
        {
            var valid = Valid.Sip(m.Pick(Valid.SipMethods), n, port);
            var bytes = m.Chance(5) ? Encoding.UTF8.GetBytes(valid) : m.Mutate(Encoding.UTF8.GetBytes(valid), maxLength: 65_000);
            await udp.SendAsync(bytes, sip);
            inputs++;
            // Paced in small bursts: the corpus is about content; floods are another test's business.
            if (n % 20 == 19) await Task.Delay(1);
            if (n % 200 == 199)
            {
                await AliveOverUdpAsync(udp, responses, sip, port, n);
                CheckResponses(responses);
            }
        }

        var tcpInputs = await TcpAsync(m, 600);
        inputs += tcpInputs;
        await AliveOverUdpAsync(udp, responses, sip, port, -1);
        CheckResponses(responses);
        stop.Cancel();
        await receiver;

        Assert.True(inputs >= 3_000, $"{inputs} inputs");
        Assert.StartsWith("200 ", await StatusAsync());
        Bounds.NoErrors(_server.Logs);
        Bounds.Memory("the SIP corpus");
        Bounds.LogVolume(_server.Logs, inputs);
    }

    [Fact]
    public async Task A_malformed_request_is_answered_to_its_source_not_to_the_address_its_Via_names()
    {
        // The victim is any host:port the attacker writes into Via; answering there makes the switch a reflector.
        using var victim = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var attacker = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int victimPort = ((IPEndPoint)victim.Client.LocalEndPoint!).Port;
        var request = Valid.Sip("OPTIONS", 1, victimPort).Replace(";rport", "", StringComparison.Ordinal)
            .Replace("Content-Length: 0", "Content-Length: -5", StringComparison.Ordinal);
        await attacker.SendAsync(Encoding.UTF8.GetBytes(request), new IPEndPoint(IPAddress.Loopback, _server.SipPort));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reply = await attacker.ReceiveAsync(cts.Token);
        Assert.StartsWith("SIP/2.0 400 ", Encoding.UTF8.GetString(reply.Buffer));
        Assert.Equal(0, victim.Available);
    }

    [Fact]
    public async Task A_received_parameter_written_by_the_sender_does_not_steer_the_response()
    {
        // A well-formed OPTIONS whose Via host is the sender's own address but carries received=<victim>: the
        // response must go to the real source address (RFC 3261 18.2.1 lets the receiver, not the sender, set it).
        using var own = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)own.Client.LocalEndPoint!).Port;
        using var victim = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port));
        var request = Valid.Sip("OPTIONS", 2, port).Replace(";rport", ";received=127.0.0.2", StringComparison.Ordinal);
        await own.SendAsync(Encoding.UTF8.GetBytes(request), new IPEndPoint(IPAddress.Loopback, _server.SipPort));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reply = await own.ReceiveAsync(cts.Token);
        Assert.StartsWith("SIP/2.0 200 ", Encoding.UTF8.GetString(reply.Buffer));
        Assert.Equal(0, victim.Available);
    }

    private async Task<int> TcpAsync(Mutator m, int count)
    {
        int sent = 0;
        for (int batch = 0; batch < count; batch += 40)
        {
            var tasks = new List<Task>();
            for (int i = 0; i < 40; i++)
            {
                // One to three messages on one connection, as a phone pipelines them; mutations may break the framing.
                var stream = new List<byte>();
                for (int k = 1 + m.Next(3); k > 0; k--)
                    stream.AddRange(Encoding.UTF8.GetBytes(Valid.Sip(m.Pick(Valid.SipMethods), 10_000 + batch + i, 5060, "TCP")));
                var bytes = m.Mutate([.. stream], maxLength: 140_000);
                tasks.Add(TcpExchangeAsync(bytes));
                sent++;
            }
            await Task.WhenAll(tasks);
            await AliveOverTcpAsync(batch);
        }
        return sent;
    }

    private async Task TcpExchangeAsync(byte[] bytes)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.SipPort);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(bytes);
            tcp.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // The switch closes a stream whose framing it lost; what it wrote before is still read below.
        }
        // Responses come back on the connection; the switch closes it when we are done or the framing broke.
        var raw = await ReadSomeAsync(stream, TimeSpan.FromMilliseconds(500));
        var rest = raw.AsSpan();
        while (!rest.IsEmpty)
        {
            var status = SipParser.Parse(rest, datagram: false, SipParserLimits.Default, out var msg, out var consumed, out var error);
            if (status == SipParseStatus.Incomplete) break; // cut by our read window, not by the switch
            WellFormed(status, msg, error, rest.ToArray());
            rest = rest[consumed..];
        }
    }

    /// <summary>
    /// A response must have a valid status line and a printable UTF-8 head. A 400 to a broken request echoes its
    /// From/To/Call-ID as RFC 3261 §8.2.6.2 says, so those may be as broken as the request was, but never carry control bytes.
    /// </summary>
    private static void WellFormed(SipParseStatus status, SipMessage? msg, string? error, byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes);
        Assert.True(msg is SipResponse, $"the switch sent something that is not a SIP response ({error}): {Bounds.Show(text)}");
        // A response repeats every Via of its request (§8.2.6.2), so a request near the header limit makes a response
        // just over it; that is the request's doing and only the count may be off.
        bool echoedLimit = error?.StartsWith("more than ", StringComparison.Ordinal) == true;
        Assert.True(status == SipParseStatus.Complete || echoedLimit || ((SipResponse)msg).StatusCode == 400, $"the switch sent a malformed {((SipResponse)msg).StatusCode} ({error}): {Bounds.Show(text)}");
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = headEnd < 0 ? text : text[..headEnd];
        Assert.True(System.Text.Unicode.Utf8.IsValid(bytes.AsSpan(0, head.Length)), $"response head is not UTF-8: {Bounds.Show(text)}");
        foreach (var c in head.Replace("\r\n", "", StringComparison.Ordinal))
            if (c is not ('\t' or (>= ' ' and not '\x7f'))) Assert.Fail($"response head holds control byte {(int)c:X2}: {Bounds.Show(text)}");
    }

    private static async Task<byte[]> ReadSomeAsync(NetworkStream stream, TimeSpan window)
    {
        using var ms = new MemoryStream();
        using var cts = new CancellationTokenSource(window);
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) break;
                ms.Write(buffer, 0, n);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }
        return ms.ToArray();
    }

    private static void CheckResponses(ConcurrentQueue<byte[]> responses)
    {
        while (responses.TryDequeue(out var r))
        {
            var status = SipParser.Parse(r, datagram: true, SipParserLimits.Default, out var msg, out _, out var error);
            WellFormed(status, msg, error, r);
        }
    }

    private async Task AliveOverUdpAsync(UdpClient udp, ConcurrentQueue<byte[]> responses, IPEndPoint sip, int port, int n)
    {
        // Its own branch and Call-ID each time: a reused branch is a retransmission, answered from the old transaction.
        int id = 1_000_000 + Interlocked.Increment(ref _probes);
        var callId = $"hostile-{id}@127.0.0.1";
        var probe = Encoding.UTF8.GetBytes(Valid.Sip("OPTIONS", id, port));
        var end = DateTime.UtcNow.AddSeconds(10);
        var seen = new List<byte[]>();
        while (DateTime.UtcNow < end)
        {
            await udp.SendAsync(probe, sip);
            for (int wait = 0; wait < 50; wait++)
            {
                await Task.Delay(10);
                foreach (var r in Drain(responses, seen))
                {
                    if (SipParser.Parse(r, true, SipParserLimits.Default, out var msg, out _, out _) == SipParseStatus.Complete
                        && msg is SipResponse resp && resp.CallId == callId && resp.StatusCode >= 200)
                    {
                        Assert.True(resp.StatusCode < 500, $"OPTIONS after input {n}: {resp.StatusCode} {resp.Reason}");
                        foreach (var s in seen) responses.Enqueue(s);
                        return;
                    }
                }
            }
        }
        Assert.Fail($"the switch did not answer OPTIONS over UDP within 10 s after input {n}; {seen.Count} other datagrams came ("
            + string.Join(", ", seen.Select(b => Encoding.Latin1.GetString(b).Split('\r')[0]).GroupBy(x => x).Select(g => $"{g.Count()}x {Bounds.Show(g.Key, 50)}").Take(8))
            + "); last log: "
            + string.Join(" | ", _server.Logs.Entries.TakeLast(5).Select(e => Bounds.Show(e.Message, 200))));
    }

    private static IEnumerable<byte[]> Drain(ConcurrentQueue<byte[]> q, List<byte[]> seen)
    {
        while (q.TryDequeue(out var r))
        {
            seen.Add(r);
            yield return r;
        }
    }

    private async Task AliveOverTcpAsync(int batch)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.SipPort);
        var local = ((IPEndPoint)tcp.Client.LocalEndPoint!).Port;
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(Valid.Sip("OPTIONS", 20_000 + batch, local, "TCP")));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[65536];
        int filled = 0;
        while (true)
        {
            int n;
            try
            {
                n = await stream.ReadAsync(buffer.AsMemory(filled), cts.Token);
            }
            catch (OperationCanceledException)
            {
                n = 0;
            }
            Assert.True(n > 0, $"no answer to OPTIONS over TCP after TCP batch {batch}");
            filled += n;
            if (SipParser.Parse(buffer.AsSpan(0, filled), false, SipParserLimits.Default, out var msg, out _, out _) == SipParseStatus.Complete
                && msg is SipResponse { StatusCode: >= 200 } r)
            {
                Assert.True(r.StatusCode < 500, $"OPTIONS over TCP after batch {batch}: {r.StatusCode}");
                return;
            }
        }
    }

    private async Task<string> StatusAsync()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.CommandPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync("Status 100\r\n"u8.ToArray());
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync() ?? "";
    }
}
