using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace Switchboard.Sip.Messages;

/// <summary>Explicit limits of the parser; anything larger is refused, never buffered without bound.</summary>
public sealed class SipParserLimits
{
    /// <summary>Largest message (head and body) in bytes.</summary>
    public int MaxMessageBytes { get; init; } = 65_535;

    /// <summary>Most header fields (after splitting list headers).</summary>
    public int MaxHeaders { get; init; } = 128;

    /// <summary>Longest header line (after unfolding).</summary>
    public int MaxLineBytes { get; init; } = 8_192;

    /// <summary>The defaults.</summary>
    public static SipParserLimits Default { get; } = new();
}

/// <summary>Outcome of one parse attempt.</summary>
public enum SipParseStatus
{
    /// <summary>A whole message was parsed.</summary>
    Complete,
    /// <summary>A stream needs more bytes (only for stream transports).</summary>
    Incomplete,
    /// <summary>The bytes are not a valid message; the error says why.</summary>
    Invalid,
    /// <summary>Only CRLF keep-alives (RFC 5626) were found; skip them.</summary>
    KeepAlive,
}

/// <summary>
/// The SIP message parser (RFC 3261 §7, §25) over bytes: start line, header fields with line folding, compact forms,
/// comma-separated list headers split into entries, and Content-Length framing. It never throws for bad input; an
/// invalid request still yields the headers it could read, so the caller can answer 400 with a reason.
/// </summary>
public static class SipParser
{
    private static ReadOnlySpan<byte> CrLfCrLf => "\r\n\r\n"u8;

    /// <summary>Parses one message from the start of <paramref name="data"/>.</summary>
    /// <param name="data">Received bytes.</param>
    /// <param name="datagram">True for UDP: the datagram is the message; false for a stream (Content-Length framing).</param>
    /// <param name="limits">Limits to enforce.</param>
    /// <param name="message">The message, or for Invalid the part that could be read (may be null).</param>
    /// <param name="consumed">Bytes that belong to this message (stream framing).</param>
    /// <param name="error">Why the message is invalid.</param>
    public static SipParseStatus Parse(ReadOnlySpan<byte> data, bool datagram, SipParserLimits limits,
        out SipMessage? message, out int consumed, out string? error)
    {
        message = null;
        error = null;
        consumed = 0;
        int lead = 0;
        while (lead < data.Length && (data[lead] == '\r' || data[lead] == '\n')) lead++;
        if (lead == data.Length)
        {
            consumed = lead;
            return lead == 0 ? SipParseStatus.Incomplete : SipParseStatus.KeepAlive;
        }
        var span = data[lead..];

        int headEnd = span.IndexOf(CrLfCrLf);
        int sepLen = 4;
        int lfOnly = span.IndexOf("\n\n"u8);
        if (lfOnly >= 0 && (headEnd < 0 || lfOnly < headEnd))
        {
            headEnd = lfOnly;
            sepLen = 2;
        }
        if (headEnd < 0)
        {
            if (span.Length > limits.MaxMessageBytes)
            {
                error = $"message head larger than {limits.MaxMessageBytes} bytes";
                consumed = data.Length;
                return SipParseStatus.Invalid;
            }
            if (!datagram)
                return SipParseStatus.Incomplete;
            // A datagram without an empty line: everything is head, body is empty.
            headEnd = span.Length;
            sepLen = 0;
        }
        if (headEnd > limits.MaxMessageBytes)
        {
            error = $"message head larger than {limits.MaxMessageBytes} bytes";
            consumed = data.Length;
            return SipParseStatus.Invalid;
        }

        var head = span[..headEnd];
        if (!Utf8.IsValid(head))
        {
            // Still read what we can (Latin-1 never fails) so the 400 can go back along the request's Via.
            consumed = datagram ? data.Length : lead + headEnd + sepLen;
            ParseHead(head, Encoding.Latin1, limits, out message, out _);
            error = "message head is not valid UTF-8";
            return SipParseStatus.Invalid;
        }
        var status = ParseHead(head, Encoding.UTF8, limits, out message, out error);
        int bodyStart = headEnd + sepLen;
        int available = span.Length - bodyStart;

        int? declared = null;
        if (message?[SipHeaderNames.ContentLength] is { } cl)
        {
            if (!int.TryParse(cl.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 0)
            {
                error ??= $"invalid Content-Length '{Shorten(cl)}'";
                status = SipParseStatus.Invalid;
            }
            else declared = n;
        }
        int bodyLength;
        if (declared is int len)
        {
            if (bodyStart + len > limits.MaxMessageBytes)
            {
                error ??= $"message larger than {limits.MaxMessageBytes} bytes";
                consumed = datagram ? data.Length : lead + Math.Min(span.Length, bodyStart + len);
                return SipParseStatus.Invalid;
            }
            if (len > available)
            {
                if (!datagram)
                {
                    message = null;
                    error = null;
                    return SipParseStatus.Incomplete;
                }
                error ??= $"Content-Length {len} is more than the {available} body bytes received";
                status = SipParseStatus.Invalid;
                len = available;
            }
            bodyLength = len;
        }
        else
        {
            // RFC 3261 §18.3: on a stream Content-Length is mandatory; in a datagram the body runs to its end.
            bodyLength = datagram ? available : 0;
        }
        consumed = datagram ? data.Length : lead + bodyStart + bodyLength;
        if (message is not null && bodyLength > 0) message.Body = span.Slice(bodyStart, bodyLength).ToArray();
        return status;
    }

    /// <summary>Splits off the next line (LF or CRLF ending, RFC 3261 §7.5 tolerance for bare LF).</summary>
    private static ReadOnlySpan<byte> NextLine(scoped ref ReadOnlySpan<byte> rest)
    {
        int nl = rest.IndexOf((byte)'\n');
        ReadOnlySpan<byte> line;
        if (nl < 0)
        {
            line = rest;
            rest = default;
        }
        else
        {
            line = rest[..nl];
            rest = rest[(nl + 1)..];
            if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
        }
        return line;
    }

    private static SipParseStatus ParseHead(ReadOnlySpan<byte> head, Encoding encoding, SipParserLimits limits, out SipMessage? message, out string? error)
    {
        message = null;
        error = null;
        var rest = head;
        var startBytes = NextLine(ref rest);
        if (startBytes.Length > limits.MaxLineBytes)
        {
            error = $"start line longer than {limits.MaxLineBytes} bytes";
            return SipParseStatus.Invalid;
        }
        var start = encoding.GetString(startBytes);
        if (start.StartsWith("SIP/", StringComparison.Ordinal))
        {
            // SIP/2.0 200 OK
            var parts = start.Split(' ', 3);
            if (parts.Length < 2 || parts[0] != "SIP/2.0")
            {
                error = parts[0] != "SIP/2.0" ? $"unsupported version '{Shorten(parts[0])}'" : "malformed status line";
                return SipParseStatus.Invalid;
            }
            if (parts[1].Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 100 or > 699)
            {
                error = $"invalid status code '{Shorten(parts[1])}'";
                return SipParseStatus.Invalid;
            }
            message = new SipResponse(code, parts.Length > 2 ? parts[2] : "");
        }
        else
        {
            var parts = start.Split(' ');
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                error = "malformed request line (expected 'METHOD Request-URI SIP/2.0')";
                return SipParseStatus.Invalid;
            }
            foreach (var c in parts[0])
            {
                if (!(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~'))
                {
                    error = $"invalid method '{Shorten(parts[0])}'";
                    return SipParseStatus.Invalid;
                }
            }
            message = new SipRequest(parts[0], parts[1]);
            if (parts[2] != "SIP/2.0")
            {
                error = $"unsupported version '{Shorten(parts[2])}' (505)";
                ReadHeaders(rest, encoding, limits, message, ref error);
                return SipParseStatus.Invalid;
            }
            if (!parts[1].Contains(':'))
            {
                error = $"invalid Request-URI '{Shorten(parts[1])}'";
                ReadHeaders(rest, encoding, limits, message, ref error);
                return SipParseStatus.Invalid;
            }
        }

        if (!ReadHeaders(rest, encoding, limits, message, ref error)) return SipParseStatus.Invalid;
        error = Validate(message);
        return error is null ? SipParseStatus.Complete : SipParseStatus.Invalid;
    }

    private static ReadOnlySpan<byte> TrimWhitespace(ReadOnlySpan<byte> s) => s.Trim(" \t\r\v\f"u8);

    /// <summary>
    /// Reads header fields straight from the bytes: one string per value, the name mapped to an interned canonical
    /// string when known. Only a folded header (rare) goes through a StringBuilder.
    /// </summary>
    private static bool ReadHeaders(ReadOnlySpan<byte> rest, Encoding encoding, SipParserLimits limits, SipMessage message, ref string? error)
    {
        string? name = null;
        ReadOnlySpan<byte> value = default;
        StringBuilder? folded = null;
        bool ok = true;
        while (true)
        {
            bool end = rest.IsEmpty;
            var line = end ? default : NextLine(ref rest);
            if (!end && line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
            {
                if (name is null)
                {
                    error ??= "continuation line without a header";
                    ok = false;
                    continue;
                }
                folded ??= new StringBuilder().Append(encoding.GetString(value));
                folded.Append(' ').Append(encoding.GetString(TrimWhitespace(line)));
                if (folded.Length > limits.MaxLineBytes)
                {
                    error ??= $"header {name} longer than {limits.MaxLineBytes} bytes";
                    return false;
                }
                continue;
            }
            if (name is not null)
            {
                if (folded is null && value.Length > limits.MaxLineBytes)
                {
                    error ??= $"header {name} longer than {limits.MaxLineBytes} bytes";
                    ok = false;
                }
                else
                {
                    var text = folded is null ? encoding.GetString(TrimWhitespace(value)) : folded.ToString().Trim();
                    if (!AddHeader(message, name, text, limits, ref error)) ok = false;
                }
                name = null;
                folded = null;
            }
            if (end) return ok;
            if (line.Length == 0) continue;
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                error ??= $"malformed header line '{Shorten(encoding.GetString(line[..Math.Min(line.Length, 60)]))}'";
                ok = false;
                continue;
            }
            var raw = line[..colon].TrimEnd(" \t"u8);
            if (!IsToken(raw))
            {
                error ??= $"invalid header name '{Shorten(encoding.GetString(raw[..Math.Min(raw.Length, 60)]))}'";
                ok = false;
                continue;
            }
            name = NameOf(raw);
            value = line[(colon + 1)..];
        }
    }

    private static bool AddHeader(SipMessage message, string name, string value, SipParserLimits limits, ref string? error)
    {
        var canonical = Canonical(name);
        if (SipHeaderNames.IsList(canonical) && value.Contains(','))
        {
            foreach (var part in SipText.SplitOutsideQuotes(value, ','))
            {
                var v = part.Trim();
                if (v.Length == 0) continue;
                if (!Append(message, canonical, v, limits, ref error)) return false;
            }
            return true;
        }
        return Append(message, canonical, value, limits, ref error);
    }

    private static bool Append(SipMessage message, string name, string value, SipParserLimits limits, ref string? error)
    {
        foreach (var c in value)
        {
            if (c is < ' ' and not '\t' or '\x7f')
            {
                error ??= $"control character in header {name}";
                return false;
            }
        }
        if (message.Headers.Count >= limits.MaxHeaders)
        {
            error ??= $"more than {limits.MaxHeaders} header fields";
            return false;
        }
        message.Headers.Add(new SipHeader(name, value));
        return true;
    }

    private static readonly string[] Required = [SipHeaderNames.Via, SipHeaderNames.From, SipHeaderNames.To, SipHeaderNames.CallId, SipHeaderNames.CSeq];

    private static string? Validate(SipMessage m)
    {
        foreach (var required in Required)
            if (m[required] is null) return $"missing {required} header";
        if (m.TopVia is null) return $"malformed Via header '{Shorten(m[SipHeaderNames.Via]!)}'";
        var cseq = m.CSeq;
        if (!cseq.IsValid) return $"malformed CSeq header '{Shorten(m[SipHeaderNames.CSeq]!)}'";
        if (m.CallId.Trim().Length == 0) return "empty Call-ID";
        if (m.From.Uri.Length == 0) return "malformed From header";
        if (m.To.Uri.Length == 0) return "malformed To header";
        if (m is SipRequest r)
        {
            if (cseq.Method != r.Method) return $"CSeq method {Shorten(cseq.Method)} does not match request method {Shorten(r.Method)}";
            if (m[SipHeaderNames.MaxForwards] is { } mf && !int.TryParse(mf.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
                return $"invalid Max-Forwards '{Shorten(mf)}'";
        }
        return null;
    }

    private static readonly string[] Known =
    [
        SipHeaderNames.Via, SipHeaderNames.From, SipHeaderNames.To, SipHeaderNames.CallId, SipHeaderNames.CSeq, SipHeaderNames.Contact,
        SipHeaderNames.MaxForwards, SipHeaderNames.ContentType, SipHeaderNames.ContentLength, SipHeaderNames.Route, SipHeaderNames.RecordRoute,
        SipHeaderNames.Expires, SipHeaderNames.Authorization, SipHeaderNames.ProxyAuthorization, SipHeaderNames.WwwAuthenticate,
        SipHeaderNames.ProxyAuthenticate, SipHeaderNames.UserAgent, SipHeaderNames.Allow, SipHeaderNames.AllowEvents, SipHeaderNames.Supported,
        SipHeaderNames.Event, SipHeaderNames.ReferTo,
    ];

    private static string Canonical(string name)
    {
        foreach (var k in Known) if (k.Equals(name, StringComparison.OrdinalIgnoreCase)) return k;
        return name;
    }

    /// <summary>The canonical name for a (token) header name: compact forms expanded, known names without allocating.</summary>
    private static string NameOf(ReadOnlySpan<byte> raw)
    {
        if (raw.Length == 1) return SipHeaderNames.Expand(((char)raw[0]).ToString());
        foreach (var k in Known) if (Ascii.EqualsIgnoreCase(raw, k)) return k;
        return Encoding.ASCII.GetString(raw);
    }

    private static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.Length == 0) return false;
        foreach (var b in s)
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'!' or (byte)'%' or (byte)'*' or (byte)'_' or (byte)'+' or (byte)'`' or (byte)'\'' or (byte)'~')) return false;
        return true;
    }

    internal static string Shorten(string s)
    {
        var clean = new StringBuilder(Math.Min(s.Length, 40));
        foreach (var c in s.Length > 40 ? s[..40] : s) clean.Append(c is >= ' ' and <= '~' ? c : '?');
        return s.Length > 40 ? clean + "..." : clean.ToString();
    }
}
