using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Hostile.Tests.Support;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// Mutated whole HTTP requests (request line, headers, bodies) to the IP interface port. Each must end in well-formed
/// HTTP responses with a known status, or, when the mutation made it no HTTP at all, in one reply line per command line.
/// </summary>
public sealed class HttpCorpusTests : IAsyncLifetime
{
    private HostileServer _server = null!;

    private static readonly string[] Requests =
    [
        "GET /Status%20100 HTTP/1.1\r\nHost: 127.0.0.1:2503\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        "GET /Makecall%20100%20+49%20(89)%20123-4567 HTTP/1.1\r\nHost: x\r\nOrigin: http://crm.example\r\nConnection: keep-alive\r\n\r\n",
        "HEAD /Drop%20100 HTTP/1.0\r\n\r\n",
        "OPTIONS /Answer%20100 HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-a, content-type\r\n\r\n",
        "POST /Status%20100 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\ncmd=Status+100",
        "GET /?x=1#frag HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /Forward%20100%20* HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /favicon.ico HTTP/1.1\r\nHost: x\r\nCookie: a=b; c=d\r\n\r\nGET /Status%20101 HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /Status%20100 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ];

    public async Task InitializeAsync() => _server = await HostileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Every_mutated_request_gets_well_formed_responses_and_the_server_stays_up()
    {
        var m = new Mutator(80);
        const int Total = 1_200;
        var inputs = new List<string>(Total);
        for (int i = 0; i < Total; i++) inputs.Add(m.Chance(5) ? m.Pick(Requests) : m.Mutate(m.Pick(Requests), maxLength: 20_000));
        for (int batch = 0; batch < Total; batch += 40)
        {
            // Forty clients at once, as a scanner would; each request on its own connection, half-closed after sending.
            await Task.WhenAll(inputs.Skip(batch).Take(40).Select(ExchangeAsync));
            var alive = await ExchangeRawAsync("GET /Status%20100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.Equal(204, Assert.Single(HttpResponses.Parse(alive, "liveness GET")).Status);
            if (batch % 400 == 0) Bounds.Memory($"HTTP batch {batch}");
        }
        Bounds.NoErrors(_server.Logs);
        Bounds.Memory("the HTTP corpus");
        Bounds.LogVolume(_server.Logs, Total);
    }

    [Theory]
    [InlineData(100)] // 2,800 bytes: the end of input lands in the same pipe segment
    [InlineData(140)] // 3,920 bytes: the end of input comes as a new, empty segment
    [InlineData(287)] // 8,036 bytes
    public async Task A_request_head_cut_off_by_the_client_is_answered_400(int lines)
    {
        var request = string.Concat(Enumerable.Repeat("GET /Status%20100 HTTP/1.1\r\n", lines));
        var responses = HttpResponses.Parse(await ExchangeRawAsync(request), request);
        Assert.Equal(400, Assert.Single(responses).Status);
    }

    [Fact]
    public async Task A_request_line_longer_than_a_command_line_is_answered_as_http()
    {
        // Click-to-dial links with long query strings: the request line arrives in several reads.
        var request = $"GET /Status%20100?{new string('x', 5_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        var responses = HttpResponses.Parse(await ExchangeRawAsync(request), request);
        Assert.Equal(204, Assert.Single(responses).Status);
    }

    private async Task ExchangeAsync(string request)
    {
        var raw = await ExchangeRawAsync(request);
        var text = Encoding.Latin1.GetString(raw);
        if (text.StartsWith("HTTP/", StringComparison.Ordinal))
        {
            foreach (var r in HttpResponses.Parse(raw, request))
                if (r.Headers.ContainsKey("X-Switchboard-Reply")) HttpResponses.CommandReply(r, request);
            return;
        }
        // Not taken as HTTP: then the bytes were command lines and each one is owed a reply.
        var replies = text.Length == 0 ? [] : text.TrimEnd('\r', '\n').Split("\r\n");
        int expected = Lines.Count(request);
        Assert.True(replies.Length == expected, $"{replies.Length} reply lines for {expected} command lines in {Bounds.Show(request)}: {Bounds.Show(text)}");
        foreach (var r in replies) Bounds.Reply(r, request);
    }

    private Task<byte[]> ExchangeRawAsync(string request) =>
        HttpResponses.ExchangeAsync(_server.CommandPort, request, TimeSpan.FromSeconds(20), request);
}
