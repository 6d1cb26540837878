using System.Text;

namespace Switchboard.Interface.Tests.Support;

/// <summary>One HTTP response as read off the wire.</summary>
public sealed record HttpReply(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>A header value, or null.</summary>
    public string? Header(string name) => Headers.GetValueOrDefault(name);
}

/// <summary>Hand-written HTTP/1.1 over a <see cref="LineClient"/>: tests control every byte (no client library fixes things up).</summary>
public static class Http
{
    /// <summary>Sends one request (Host header added) and reads its response.</summary>
    public static async Task<HttpReply> RequestAsync(this LineClient client, string method, string target, params string[] headers)
    {
        var head = new StringBuilder().Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        foreach (var h in headers) head.Append(h).Append("\r\n");
        await client.SendAsync(head.Append("\r\n").ToString());
        return await client.ReadResponseAsync(head: method == "HEAD") ?? throw new IOException("connection closed without a response");
    }

    /// <summary>Reads one response; null when the connection closed first. A HEAD response has no body.</summary>
    public static async Task<HttpReply?> ReadResponseAsync(this LineClient client, bool head = false)
    {
        var statusLine = await client.ReadLineAsync();
        if (statusLine is null) return null;
        var parts = statusLine.Split(' ', 3);
        Assert.True(parts.Length >= 2 && parts[0] == "HTTP/1.1", $"not an HTTP/1.1 status line: {statusLine}");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await client.ReadLineAsync() is { Length: > 0 } line)
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        int length = !head && headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
        var body = length > 0 ? Encoding.UTF8.GetString(await client.ReadBytesAsync(length)) : "";
        return new HttpReply(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), headers, body);
    }

    /// <summary>The command line as a browser puts it in a link's path.</summary>
    public static string PathOf(string commandLine) => "/" + Uri.EscapeDataString(commandLine);
}
