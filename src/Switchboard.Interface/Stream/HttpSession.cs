using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Interface.Stream;

/// <summary>
/// HTTP/1.1 on the stream port: <c>GET /Makecall%20100%20102</c> runs the decoded path as a command line and answers
/// 204 on success (the browser stays on its page) or the reply code with the reply line as text. Keep-alive, HEAD
/// (checks, does not dial), CORS preflight. Request heads are size- and time-limited against slow-loris clients.
/// </summary>
internal sealed class HttpSession(PipeReader reader, PipeWriter writer, CommandInterpreter interpreter,
    IpInterfaceOptions options, IPEndPoint remote, ILogger log, CancellationToken closed, LogThrottle? throttle = null)
{
    // Bad and slow requests are what scanners send by the thousand: a sample per source, not a line each.
    private bool Sample(string kind) => throttle is null || throttle.Allow(kind, remote.Address);

    private const int MaxBodyBytes = 64 * 1024;
    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    /// <summary>True for <c>METHOD SP target SP HTTP/1.x</c>.</summary>
    public static bool IsRequestLine(ReadOnlySequence<byte> line)
    {
        if (line.Length > 8192) return false;
        Span<byte> tmp = stackalloc byte[(int)Math.Min(line.Length, 8192)];
        line.CopyTo(tmp);
        int sp = tmp.IndexOf((byte)' ');
        if (sp < 3 || sp > 10) return false;
        foreach (var b in tmp[..sp]) if (b is < (byte)'A' or > (byte)'Z') return false;
        return tmp.LastIndexOf(" HTTP/1."u8) > sp;
    }

    /// <summary>
    /// True when an unfinished first line starts like a request line (<c>METHOD SP /</c>, <c>*</c> or an absolute URI), so
    /// the connection should wait for its end rather than treat it as a too-long command line.
    /// </summary>
    public static bool MayBeRequestLine(ReadOnlySequence<byte> start)
    {
        Span<byte> tmp = stackalloc byte[16];
        int n = (int)Math.Min(start.Length, tmp.Length);
        start.Slice(0, n).CopyTo(tmp);
        var head = tmp[..n];
        int sp = head.IndexOf((byte)' ');
        if (sp < 3 || sp > 10 || sp + 1 >= head.Length) return false;
        foreach (var b in head[..sp]) if (b is < (byte)'A' or > (byte)'Z') return false;
        return head[sp + 1] is (byte)'/' or (byte)'*' or (byte)'h' or (byte)'H';
    }

    public async Task RunAsync()
    {
        while (true)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(closed);
            deadline.CancelAfter(options.HttpRequestTimeout);
            Request? request;
            try
            {
                request = await ReadHeadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!closed.IsCancellationRequested)
            {
                if (Sample("incomplete HTTP requests"))
                    InterfaceLog.HttpRequestTimedOut(log, remote, options.HttpRequestTimeout);
                await RespondAsync(408, "Request Timeout", null, "408 request head not complete in time", close: true, head: false).ConfigureAwait(false);
                return;
            }
            catch (HttpBadRequest bad)
            {
                if (Sample("bad HTTP requests"))
                    InterfaceLog.HttpBadRequest(log, remote, Switchboard.Diagnostics.LogText.Escape(bad.Message));
                await RespondAsync(bad.Status, bad.Reason, null, $"{bad.Status} {bad.Message}", close: true, head: false).ConfigureAwait(false);
                return;
            }
            if (request is null) return;
            bool keep = await HandleAsync(request).ConfigureAwait(false);
            if (!keep) return;
        }
    }

    private async Task<bool> HandleAsync(Request r)
    {
        bool close = r.Close;
        var cors = CorsHeaders(r.Origin);
        bool head = r.Method == "HEAD";
        switch (r.Method)
        {
            case "OPTIONS":
                var allowHeaders = r.RequestHeaders is null ? "" : $"Access-Control-Allow-Headers: {r.RequestHeaders}\r\n";
                await RespondAsync(204, "No Content", cors + PrivateNetworkHeader(r) + "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n" + allowHeaders
                    + "Access-Control-Max-Age: 600\r\nAllow: GET, HEAD, OPTIONS\r\n", null, close, head: false).ConfigureAwait(false);
                return !close;
            case "GET":
            case "HEAD":
                break;
            default:
                await RespondAsync(405, "Method Not Allowed", cors + "Allow: GET, HEAD, OPTIONS\r\n",
                    $"405 method {r.Method} not allowed; use GET /<command>", close, head: false).ConfigureAwait(false);
                return !close;
        }

        var target = r.Target;
        int q = target.IndexOfAny(['?', '#']);
        if (q >= 0) target = target[..q];
        string path;
        try
        {
            path = Uri.UnescapeDataString(target.TrimStart('/'));
        }
        catch (UriFormatException)
        {
            path = target.TrimStart('/');
        }

        if (path.Length == 0)
        {
            await RespondAsync(200, "OK", cors, HelpPage, close, head, "text/html; charset=utf-8").ConfigureAwait(false);
            return !close;
        }
        if (path.Equals("favicon.ico", StringComparison.OrdinalIgnoreCase) || path.Equals("robots.txt", StringComparison.OrdinalIgnoreCase))
        {
            await RespondAsync(404, "Not Found", cors, "404 not a command", close, head).ConfigureAwait(false);
            return !close;
        }

        var verdict = interpreter.Access.CrossSite.Judge(new BrowserRequestHeaders(r.SecFetchSite, r.SecFetchMode, r.SecFetchDest, r.Origin, r.Referer, r.Host));
        if (!verdict.IsAllowed)
        {
            if (Sample("cross-site HTTP commands")) AccessLog.CrossSiteRefused(log, remote.ToString(), verdict.RuleName!, verdict.Text!);
            // A file:// or sandboxed page may read why it was refused (nothing else): otherwise it only sees "Failed to fetch".
            var readable = r.Origin == "null" ? "Access-Control-Allow-Origin: null\r\nAccess-Control-Expose-Headers: X-Switchboard-Refused\r\nVary: Origin\r\n" : cors;
            await RespondAsync(403, "Forbidden", readable + $"X-Switchboard-Refused: {verdict.RuleName}\r\n",
                $"403 refused by Access:AllowedOrigins ({verdict.RuleName}): {verdict.Text}", close, head).ConfigureAwait(false);
            return !close;
        }

        var context = new ClientContext(FrontEndKind.Http, remote.Address) { Origin = r.Origin, ValidateOnly = head };
        var reply = await interpreter.ExecuteAsync(path, context, closed).ConfigureAwait(false);
        var replyHeader = $"X-Switchboard-Reply: {Sanitize(reply.ToString())}\r\n";
        if (reply.IsSuccess)
            await RespondAsync(204, "No Content", cors + replyHeader, null, close, head).ConfigureAwait(false);
        else
            await RespondAsync((int)reply.Code, ReasonPhrase(reply.Code), cors + replyHeader, reply.ToString(), close, head).ConfigureAwait(false);
        return !close;
    }

    /// <summary>
    /// Private Network Access: a page on a public address asks before it may reach this private one; only listed origins
    /// (or any, while the list is empty) are told yes.
    /// </summary>
    private string PrivateNetworkHeader(Request r)
    {
        if (!r.RequestPrivateNetwork || r.Origin is null) return "";
        if (!interpreter.Access.OriginAllowed(r.Origin))
        {
            if (Sample("refused Private Network Access preflights")) AccessLog.PrivateNetworkRefused(log, remote.ToString(), Sanitize(r.Origin));
            return "";
        }
        AccessLog.PrivateNetworkAllowed(log, remote.ToString(), Sanitize(r.Origin));
        return "Access-Control-Allow-Private-Network: true\r\n";
    }

    private string CorsHeaders(string? origin)
    {
        if (origin is null) return "";
        var policy = interpreter.Access;
        if (!policy.OriginAllowed(origin)) return "Vary: Origin\r\n";
        return $"Access-Control-Allow-Origin: {Sanitize(origin)}\r\nAccess-Control-Expose-Headers: X-Switchboard-Reply\r\nVary: Origin\r\n";
    }

    private async ValueTask RespondAsync(int status, string reason, string? headers, string? body, bool close, bool head, string contentType = "text/plain; charset=utf-8")
    {
        var bodyBytes = body is null ? [] : Encoding.UTF8.GetBytes(body + (contentType.StartsWith("text/plain", StringComparison.Ordinal) ? "\r\n" : ""));
        var sb = new StringBuilder(256);
        sb.Append("HTTP/1.1 ").Append(status).Append(' ').Append(reason).Append("\r\n");
        sb.Append("Server: Switchboard\r\nCache-Control: no-store\r\n");
        if (status != 204)
        {
            sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
            sb.Append("Content-Length: ").Append(bodyBytes.Length).Append("\r\n");
        }
        if (headers is not null) sb.Append(headers);
        if (close) sb.Append("Connection: close\r\n");
        sb.Append("\r\n");
        ReplyWriter.WriteAscii(writer, sb.ToString());
        if (!head && status != 204 && bodyBytes.Length > 0) writer.Write(bodyBytes);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
        timeout.CancelAfter(options.WriteTimeout);
        await writer.FlushAsync(timeout.Token).ConfigureAwait(false);
    }

    private async ValueTask<Request?> ReadHeadAsync(CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            var sr = new SequenceReader<byte>(buffer);
            if (sr.TryReadTo(out ReadOnlySequence<byte> headBytes, HeadEnd, advancePastDelimiter: true))
            {
                if (headBytes.Length > options.MaxHttpHeaderBytes) throw new HttpBadRequest(431, "Request Header Fields Too Large", "request head too large");
                var request = ParseHead(Encoding.Latin1.GetString(headBytes.ToArray()));
                var consumed = sr.Position;
                reader.AdvanceTo(consumed);
                if (request.ContentLength > 0) await SkipBodyAsync(request.ContentLength, ct).ConfigureAwait(false);
                return request;
            }
            if (buffer.Length > options.MaxHttpHeaderBytes)
                throw new HttpBadRequest(431, "Request Header Fields Too Large", $"request head larger than {options.MaxHttpHeaderBytes} bytes");
            if (result.IsCompleted)
            {
                // The buffer must be read before AdvanceTo: its segments go back to the pool then, and a head that
                // ended in a fresh empty segment (client closed right after ~4 KiB) looked empty and got no answer.
                bool empty = buffer.IsEmpty;
                reader.AdvanceTo(buffer.End);
                if (empty) return null;
                throw new HttpBadRequest(400, "Bad Request", "connection closed in the middle of a request head");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async ValueTask SkipBodyAsync(long length, CancellationToken ct)
    {
        if (length > MaxBodyBytes) throw new HttpBadRequest(413, "Content Too Large", "request body too large (commands go in the path)");
        while (length > 0)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var take = Math.Min(length, result.Buffer.Length);
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            length -= take;
            if (result.IsCompleted && length > 0) throw new HttpBadRequest(400, "Bad Request", "request body shorter than Content-Length");
        }
    }

    internal static Request ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            throw new HttpBadRequest(400, "Bad Request", "malformed request line");
        bool http10 = parts[2] == "HTTP/1.0";
        var r = new Request(parts[0], parts[1]) { Close = http10 };
        for (int i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new HttpBadRequest(400, "Bad Request", "malformed header line");
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            // Origin: null is kept as it is: it is a file:// or sandboxed page, not a tool without an Origin.
            if (name.Equals("Origin", StringComparison.OrdinalIgnoreCase)) r.Origin = value;
            else if (name.Equals("Sec-Fetch-Site", StringComparison.OrdinalIgnoreCase)) r.SecFetchSite = value;
            else if (name.Equals("Sec-Fetch-Mode", StringComparison.OrdinalIgnoreCase)) r.SecFetchMode = value;
            else if (name.Equals("Sec-Fetch-Dest", StringComparison.OrdinalIgnoreCase)) r.SecFetchDest = value;
            else if (name.Equals("Referer", StringComparison.OrdinalIgnoreCase)) r.Referer = value;
            else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) r.Host = value;
            else if (name.Equals("Access-Control-Request-Private-Network", StringComparison.OrdinalIgnoreCase))
                r.RequestPrivateNetwork = value.Equals("true", StringComparison.OrdinalIgnoreCase);
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Contains("close", StringComparison.OrdinalIgnoreCase)) r.Close = true;
                else if (value.Contains("keep-alive", StringComparison.OrdinalIgnoreCase)) r.Close = false;
            }
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var len))
                    throw new HttpBadRequest(400, "Bad Request", "invalid Content-Length");
                r.ContentLength = len;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                throw new HttpBadRequest(501, "Not Implemented", "request bodies with Transfer-Encoding are not supported");
            else if (name.Equals("Access-Control-Request-Headers", StringComparison.OrdinalIgnoreCase)) r.RequestHeaders = Sanitize(value);
        }
        return r;
    }

    private static string Sanitize(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) sb.Append(c is >= ' ' and <= '~' ? c : '?');
        return sb.ToString();
    }

    /// <summary>The HTTP reason phrase of a reply code.</summary>
    public static string ReasonPhrase(ReplyCode code) => code switch
    {
        ReplyCode.Ok => "OK",
        ReplyCode.BadRequest => "Bad Request",
        ReplyCode.Forbidden => "Forbidden",
        ReplyCode.NotFound => "Not Found",
        ReplyCode.WrongState => "Conflict",
        ReplyCode.Unreachable => "Temporarily Unavailable",
        ReplyCode.InternalError => "Internal Server Error",
        ReplyCode.NotImplemented => "Not Implemented",
        ReplyCode.Unavailable => "Service Unavailable",
        _ => "Unknown",
    };

    private const string HelpPage = """
        <!doctype html><html><head><meta charset="utf-8"><title>Switchboard IP interface</title></head><body>
        <h1>Switchboard IP interface</h1>
        <p>Each path is one command, e.g. <a href="/Status%20100">/Status 100</a>. A command that is accepted answers
        <code>204 No Content</code>; a refused one answers its reply code with the reply line as text.</p>
        <p>Commands: MakeCall &lt;dev&gt; &lt;number&gt; · Answer &lt;dev&gt; · Drop &lt;dev&gt; · Redirect &lt;dev&gt; &lt;target&gt; ·
        Toggle &lt;dev&gt; · Transfer &lt;dev&gt; · Conference &lt;dev&gt; · Pickup &lt;dev&gt; &lt;other&gt; · Forward &lt;dev&gt; [&lt;target&gt;|*] ·
        Status &lt;dev&gt;. NNNNN stands for the extension mapped to your address in FCTIIPEX.INI.</p>
        </body></html>
        """;

    internal sealed class Request(string method, string target)
    {
        public string Method { get; } = method;
        public string Target { get; } = target;
        public string? Origin { get; set; }
        public bool Close { get; set; }
        public long ContentLength { get; set; }
        public string? RequestHeaders { get; set; }
        public string? SecFetchSite { get; set; }
        public string? SecFetchMode { get; set; }
        public string? SecFetchDest { get; set; }
        public string? Referer { get; set; }
        public string? Host { get; set; }
        public bool RequestPrivateNetwork { get; set; }
    }

    internal sealed class HttpBadRequest(int status, string reason, string message) : Exception(message)
    {
        public int Status { get; } = status;
        public string Reason { get; } = reason;
    }
}
