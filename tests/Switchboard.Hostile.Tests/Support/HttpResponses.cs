using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>One HTTP response as it came off the wire.</summary>
internal sealed record HttpResponse(int Status, string StatusLine, Dictionary<string, string> Headers, string Body);

/// <summary>Reads HTTP/1.1 responses (Content-Length framing, which is all the IP interface sends) from raw bytes.</summary>
internal static class HttpResponses
{
    /// <summary>The HTTP status codes the IP interface may answer with.</summary>
    public static readonly int[] Statuses = [200, 204, 400, 403, 404, 405, 408, 409, 413, 431, 480, 501, 503];

    /// <summary>Splits <paramref name="raw"/> into responses; fails on anything that is not a well-formed response.</summary>
    public static List<HttpResponse> Parse(byte[] raw, string input)
    {
        var list = new List<HttpResponse>();
        int pos = 0;
        var text = Encoding.Latin1.GetString(raw);
        while (pos < text.Length)
        {
            int headEnd = text.IndexOf("\r\n\r\n", pos, StringComparison.Ordinal);
            Assert.True(headEnd > 0, $"incomplete HTTP response head to {Bounds.Show(input)}: {Bounds.Show(text[pos..])}");
            var lines = text[pos..headEnd].Split("\r\n");
            var status = lines[0];
            Assert.True(status.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && status.Length >= 12
                && int.TryParse(status.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture, out _),
                $"bad status line '{Bounds.Show(status)}' to {Bounds.Show(input)}");
            int code = int.Parse(status.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Statuses.Contains(code), $"HTTP {code} to {Bounds.Show(input)}");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in lines.Skip(1))
            {
                foreach (var c in h)
                    if (c is < ' ' or > '~') Assert.Fail($"response header '{Bounds.Show(h)}' to {Bounds.Show(input)} is not printable");
                int colon = h.IndexOf(':');
                Assert.True(colon > 0, $"response header '{Bounds.Show(h)}' to {Bounds.Show(input)}");
                headers[h[..colon]] = h[(colon + 1)..].Trim();
            }
            int bodyStart = headEnd + 4;
            int length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
            // A HEAD response announces the length of the body it does not send.
            if (input.Contains("HEAD ", StringComparison.Ordinal) && (bodyStart == text.Length || text.AsSpan(bodyStart).StartsWith("HTTP/1.1 ")))
                length = 0;
            Assert.True(bodyStart + length <= text.Length, $"HTTP body shorter than its Content-Length to {Bounds.Show(input)}");
            list.Add(new HttpResponse(code, status, headers, text.Substring(bodyStart, length)));
            pos = bodyStart + length;
        }
        return list;
    }

    /// <summary>Checks the reply a response carries for a command: 204 with its 200 line in a header, else the line as body.</summary>
    public static void CommandReply(HttpResponse r, string input)
    {
        if (r.Status == 204)
        {
            Assert.True(r.Headers.TryGetValue("X-Switchboard-Reply", out var reply), $"204 without X-Switchboard-Reply to {Bounds.Show(input)}");
            Bounds.Reply(reply, input);
            Assert.StartsWith("200 ", reply);
            return;
        }
        if (r.Status == 200) return; // the help page for an empty path
        if (r.Body.Length == 0 && input.Contains("HEAD ", StringComparison.Ordinal)) return;
        var body = r.Body.TrimEnd('\r', '\n');
        Assert.True(body.Length >= 4 && body.AsSpan(0, 3).SequenceEqual(r.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            $"HTTP {r.Status} body '{Bounds.Show(body)}' to {Bounds.Show(input)} does not start with its code");
        Assert.DoesNotContain('\n', body);
        Assert.True(body.Length <= Bounds.MaxReplyLength, $"HTTP body of {body.Length} chars to {Bounds.Show(input)}");
    }

    /// <summary>
    /// Sends <paramref name="request"/> on a new connection to the IP interface on <paramref name="port"/>, half-closes,
    /// and returns everything the server sent until it closed.
    /// </summary>
    public static async Task<byte[]> ExchangeAsync(int port, string request, TimeSpan timeout, string input)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var bytes = Encoding.Latin1.GetBytes(request);
        var send = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(bytes);
                tcp.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // The server may answer and close before it has read everything (413, 431).
            }
        });
        var raw = await ReadToEndAsync(stream, timeout, input);
        await send;
        return raw;
    }

    /// <summary>Reads until the server closes or <paramref name="timeout"/> passes; fails on timeout.</summary>
    public static async Task<byte[]> ReadToEndAsync(Stream stream, TimeSpan timeout, string input)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var ms = new MemoryStream();
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) break;
                ms.Write(buffer, 0, n);
                Assert.True(ms.Length < 1024 * 1024, $"more than 1 MiB of response to {Bounds.Show(input)}");
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no end of response within {timeout.TotalSeconds} s to {Bounds.Show(input)}; got {Bounds.Show(Encoding.Latin1.GetString(ms.ToArray()))}");
        }
        catch (IOException)
        {
            // A reset after the server answered and closed (it may close while we still send) ends the response too.
        }
        return ms.ToArray();
    }
}
