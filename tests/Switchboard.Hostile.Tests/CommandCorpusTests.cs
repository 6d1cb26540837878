using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Hostile.Tests.Support;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// Mutated command lines against the real server on all four ways in of port 2503: TCP lines, UDP datagrams, HTTP GET
/// paths and HTTP POST bodies. Every command line must get exactly one bounded, well-formed reply, and a valid
/// <c>Status 100</c> must be answered after every batch.
/// </summary>
public sealed class CommandCorpusTests : IAsyncLifetime
{
    private HostileServer _server = null!;
    private int _inputs;

    public async Task InitializeAsync() => _server = await HostileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Line(Mutator m) => m.Chance(15) ? m.Pick(Valid.Commands) : m.Mutate(m.Pick(Valid.Commands), maxLength: 3_000);

    [Fact]
    public async Task Every_command_line_gets_one_bounded_reply_on_tcp_udp_and_http()
    {
        var m = new Mutator(2503);
        await TcpAsync(m, connections: 30, linesEach: 80);
        await UdpAsync(m, datagrams: 700);
        await HttpGetAsync(m, requests: 1_000);
        await HttpPostAsync(m, requests: 150);
        Assert.True(_inputs >= 4_000, $"{_inputs} inputs");
        Bounds.NoErrors(_server.Logs);
        Bounds.Memory("the command corpus");
        Bounds.LogVolume(_server.Logs, _inputs);
    }

    private async Task TcpAsync(Mutator m, int connections, int linesEach)
    {
        for (int c = 0; c < connections; c++)
        {
            // A valid first line, so no mutation turns the connection into HTTP; the last one proves the server still works.
            var lines = new List<string> { "Status 100" };
            for (int i = 0; i < linesEach; i++) lines.Add(Line(m));
            lines.Add("Status 100");
            var payload = string.Join(m.Chance(50) ? "\r\n" : "\n", lines) + "\r\n";
            int expected = Lines.Count(payload);
            _inputs += linesEach;

            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, _server.CommandPort);
            var stream = tcp.GetStream();
            var send = stream.WriteAsync(Encoding.Latin1.GetBytes(payload)).AsTask();
            var reader = new StreamReader(stream, Encoding.Latin1);
            var replies = new List<string>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (replies.Count < expected)
            {
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    line = null;
                }
                Assert.True(line is not null, $"TCP connection {c}: {replies.Count} of {expected} replies, then nothing; last: {Bounds.Show(replies.LastOrDefault() ?? "")}");
                if (line.StartsWith("EVENT ", StringComparison.Ordinal)) continue; // a mutated line may have been a valid Monitor
                Bounds.Reply(line, $"TCP connection {c}");
                replies.Add(line);
            }
            await send;
            Assert.StartsWith("200 ", replies[^1]);
            Assert.StartsWith("200 ", replies[0]);
            if (c % 5 == 4) Bounds.Memory($"TCP batch {c}");
        }
    }

    private async Task UdpAsync(Mutator m, int datagrams)
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var server = new IPEndPoint(IPAddress.Loopback, _server.CommandPort);
        int sent = 0;
        while (sent < datagrams)
        {
            int count = 1 + m.Next(m.Chance(10) ? 100 : 8);
            var lines = new List<string>();
            for (int i = 0; i < count; i++) lines.Add(Line(m));
            var text = string.Join("\r\n", lines);
            var bytes = Encoding.Latin1.GetBytes(text);
            if (bytes.Length > 60_000) bytes = bytes[..60_000];
            text = Encoding.Latin1.GetString(bytes);
            sent += count;
            _inputs += count;
            int expected = Math.Min(Lines.Count(text), 64 + 1);
            await udp.SendAsync(bytes, server);
            if (expected > 0)
            {
                var replies = await ReceiveAsync(udp, text);
                Assert.True(replies.Length == expected, $"{replies.Length} replies for {expected} lines in datagram {Bounds.Show(text)}: {Bounds.Show(string.Join(" | ", replies))}");
                foreach (var r in replies) Bounds.Reply(r, text);
            }
            if (sent / 100 != (sent - count) / 100)
            {
                await udp.SendAsync("Status 100\r\n"u8.ToArray(), server);
                var alive = await ReceiveAsync(udp, "Status 100");
                Assert.StartsWith("200 ", Assert.Single(alive));
            }
        }
    }

    private static async Task<string[]> ReceiveAsync(UdpClient udp, string input)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var r = await udp.ReceiveAsync(cts.Token);
            var text = Encoding.Latin1.GetString(r.Buffer);
            Assert.EndsWith("\r\n", text);
            return text[..^2].Split("\r\n");
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no UDP reply within 10 s to {Bounds.Show(input)}");
            throw;
        }
    }

    private async Task HttpGetAsync(Mutator m, int requests)
    {
        int done = 0;
        while (done < requests)
        {
            // Percent-encoded paths reach the interpreter byte for byte; they go pipelined over one keep-alive connection,
            // so one response per request is checked as well.
            int count = 1 + m.Next(40);
            var inputs = new List<string>();
            var sb = new StringBuilder();
            for (int i = 0; i < count; i++)
            {
                var line = Line(m);
                var path = Uri.EscapeDataString(line.Length > 2_000 ? line[..2_000] : line);
                inputs.Add(line);
                sb.Append("GET /").Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hostile\r\n\r\n");
            }
            sb.Append("GET /Status%20100 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            var responses = await ExchangeAsync(sb.ToString(), $"GET batch at {done}");
            Assert.True(responses.Count == count + 1, $"{responses.Count} HTTP responses to {count + 1} pipelined GETs (first: {Bounds.Show(inputs[0])})");
            for (int i = 0; i < count; i++) HttpResponses.CommandReply(responses[i], inputs[i]);
            Assert.Equal(204, responses[^1].Status);
            done += count;
            _inputs += count;

            // The same lines as a browser or script might send them unencoded (only spaces escaped): each on its own connection.
            for (int i = 0; i < 4; i++)
            {
                var raw = Line(m).Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Replace(" ", "%20", StringComparison.Ordinal);
                if (raw.Length > 4_000) raw = raw[..4_000];
                var request = $"GET /{raw} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                var rs = await ExchangeAsync(request, request);
                Assert.True(rs.Count == 1, $"{rs.Count} responses to {Bounds.Show(request)}");
                if (rs[0].Headers.ContainsKey("X-Switchboard-Reply") || rs[0].Status is not (400 or 431)) HttpResponses.CommandReply(rs[0], request);
                done++;
                _inputs++;
            }
        }
    }

    private async Task HttpPostAsync(Mutator m, int requests)
    {
        for (int i = 0; i < requests; i++)
        {
            var body = new StringBuilder();
            for (int n = 1 + m.Next(m.Chance(5) ? 2_000 : 10); n > 0; n--) body.Append(Line(m)).Append("\r\n");
            var bytes = Encoding.Latin1.GetByteCount(body.ToString());
            var request = $"POST /{(m.Chance(50) ? "" : "Status%20100")} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {bytes}\r\n\r\n{body}"
                + "GET /Status%20100 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            var rs = await ExchangeAsync(request, $"POST of {bytes} bytes");
            if (bytes > 64 * 1024)
            {
                // Commands go in the path: a large body is refused and the connection closed.
                Assert.Equal(413, Assert.Single(rs).Status);
            }
            else
            {
                Assert.True(rs.Count == 2, $"{rs.Count} responses to a POST of {bytes} bytes and a GET");
                Assert.Equal(405, rs[0].Status);
                Assert.Equal(204, rs[1].Status);
            }
            _inputs++;
        }
    }

    private async Task<List<HttpResponse>> ExchangeAsync(string request, string what) =>
        HttpResponses.Parse(await HttpResponses.ExchangeAsync(_server.CommandPort, request, TimeSpan.FromSeconds(15), what), what);
}
