using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Switchboard.Sip.Messages;

/// <summary>A SIP header field: name (canonical for known compact forms) and raw value.</summary>
public readonly record struct SipHeader(string Name, string Value);

/// <summary>A SIP request or response: ordered headers and a body (RFC 3261 §7).</summary>
public abstract class SipMessage
{
    /// <summary>Headers in wire order; list headers hold one element per entry.</summary>
    public List<SipHeader> Headers { get; } = new(12);

    /// <summary>The message body (SDP, sipfrag …), empty when there is none.</summary>
    public byte[] Body { get; set; } = [];

    /// <summary>The first value of a header, or null.</summary>
    public string? this[string name]
    {
        get
        {
            foreach (var h in Headers) if (h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) return h.Value;
            return null;
        }
    }

    /// <summary>Every value of a header, in order.</summary>
    public IEnumerable<string> All(string name)
    {
        foreach (var h in Headers) if (h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) yield return h.Value;
    }

    /// <summary>Replaces all values of a header with one value.</summary>
    public void Set(string name, string value)
    {
        int i = Headers.FindIndex(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
        Remove(name);
        if (i < 0 || i > Headers.Count) Headers.Add(new SipHeader(name, value));
        else Headers.Insert(i, new SipHeader(name, value));
    }

    /// <summary>Appends a header value.</summary>
    public void Add(string name, string value) => Headers.Add(new SipHeader(name, value));

    /// <summary>Removes every value of a header.</summary>
    public void Remove(string name) => Headers.RemoveAll(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    // Parsed values of the headers every layer reads (the transaction layer, the dialog, the switch: a message's To or
    // Via is read ten times or more), each kept with the header text it came from, so a header that was replaced since
    // is parsed again. A race between two readers only parses twice.
    private Parsed<CSeq>? _cseq;
    private Parsed<NameAddress>? _from;
    private Parsed<NameAddress>? _to;
    private Parsed<ViaHeader?>? _topVia;

    /// <summary>The Call-ID.</summary>
    public string CallId => this[SipHeaderNames.CallId] ?? "";

    /// <summary>The parsed CSeq (number and method).</summary>
    public CSeq CSeq => Cached(ref _cseq, this[SipHeaderNames.CSeq] ?? "", CSeq.Parse);

    /// <summary>The From header as name-addr; parsed once per header value and shared, so it is read, not changed.</summary>
    public NameAddress From => Cached(ref _from, this[SipHeaderNames.From] ?? "", NameAddress.Parse);

    /// <summary>The To header as name-addr; parsed once per header value and shared, so it is read, not changed.</summary>
    public NameAddress To => Cached(ref _to, this[SipHeaderNames.To] ?? "", NameAddress.Parse);

    /// <summary>The top Via; parsed once per header value and shared, so it is read, not changed.</summary>
    public ViaHeader? TopVia => this[SipHeaderNames.Via] is { } v ? Cached(ref _topVia, v, ViaHeader.Parse) : null;

    private static T Cached<T>(ref Parsed<T>? slot, string raw, Func<string, T> parse)
    {
        var kept = Volatile.Read(ref slot);
        if (kept is not null && ReferenceEquals(kept.Raw, raw)) return kept.Value;
        var value = parse(raw);
        Volatile.Write(ref slot, new Parsed<T>(raw, value));
        return value;
    }

    private sealed record Parsed<T>(string Raw, T Value);

    /// <summary>The body as text (UTF-8).</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>The start line.</summary>
    public abstract string StartLine { get; }

    /// <summary>The message on the wire; Content-Length is always written from the body.</summary>
    public byte[] ToBytes()
    {
        // Measured first, then encoded into the one array that goes out: no builder, no string of the whole message.
        var utf8 = Encoding.UTF8;
        var start = StartLine;
        Span<byte> digits = stackalloc byte[11];
        Utf8Formatter.TryFormat(Body.Length, digits, out int digitCount);
        int length = utf8.GetByteCount(start) + 2;
        foreach (var h in Headers)
        {
            if (h.Name.Equals(SipHeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            length += utf8.GetByteCount(h.Name) + 2 + utf8.GetByteCount(h.Value) + 2;
        }
        length += SipHeaderNames.ContentLength.Length + 2 + digitCount + 4 + Body.Length;
        var all = new byte[length];
        var rest = all.AsSpan();
        Put(ref rest, start);
        Put(ref rest, "\r\n"u8);
        foreach (var h in Headers)
        {
            if (h.Name.Equals(SipHeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            Put(ref rest, h.Name);
            Put(ref rest, ": "u8);
            Put(ref rest, h.Value);
            Put(ref rest, "\r\n"u8);
        }
        Put(ref rest, SipHeaderNames.ContentLength);
        Put(ref rest, ": "u8);
        Put(ref rest, digits[..digitCount]);
        Put(ref rest, "\r\n\r\n"u8);
        Put(ref rest, Body);
        return all;
    }

    private static void Put(ref Span<byte> rest, string text) => rest = rest[Encoding.UTF8.GetBytes(text, rest)..];

    private static void Put(ref Span<byte> rest, scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(rest);
        rest = rest[bytes.Length..];
    }

    /// <inheritdoc />
    public override string ToString() => Encoding.UTF8.GetString(ToBytes());
}

/// <summary>A SIP request.</summary>
public sealed class SipRequest(string method, string uri) : SipMessage
{
    /// <summary>The method (INVITE, ACK, BYE …), upper case as sent.</summary>
    public string Method { get; set; } = method;

    /// <summary>The Request-URI as text.</summary>
    public string Uri { get; set; } = uri;

    /// <inheritdoc />
    public override string StartLine => $"{Method} {Uri} SIP/2.0";
}

/// <summary>A SIP response.</summary>
public sealed class SipResponse(int statusCode, string reason) : SipMessage
{
    /// <summary>The status code.</summary>
    public int StatusCode { get; set; } = statusCode;

    /// <summary>The reason phrase.</summary>
    public string Reason { get; set; } = reason;

    /// <inheritdoc />
    public override string StartLine => $"SIP/2.0 {StatusCode.ToString(CultureInfo.InvariantCulture)} {Reason}";

    /// <summary>
    /// A response to <paramref name="request"/> (RFC 3261 §8.2.6.2): Via, From, To, Call-ID and CSeq copied; a To tag is
    /// added when given and the request's To has none.
    /// </summary>
    public static SipResponse For(SipRequest request, int code, string? reason = null, string? toTag = null)
    {
        var r = new SipResponse(code, reason ?? ReasonPhrases.For(code));
        foreach (var v in request.All(SipHeaderNames.Via)) r.Add(SipHeaderNames.Via, v);
        r.Add(SipHeaderNames.From, request[SipHeaderNames.From] ?? "");
        var to = request[SipHeaderNames.To] ?? "";
        if (toTag is not null && code > 100 && NameAddress.Parse(to).Tag is null) to += ";tag=" + toTag;
        r.Add(SipHeaderNames.To, to);
        r.Add(SipHeaderNames.CallId, request.CallId);
        r.Add(SipHeaderNames.CSeq, request[SipHeaderNames.CSeq] ?? "");
        return r;
    }
}

/// <summary>Default reason phrases.</summary>
public static class ReasonPhrases
{
    /// <summary>The RFC 3261 reason phrase of a code.</summary>
    public static string For(int code) => code switch
    {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => code switch { < 200 => "Progress", < 300 => "OK", < 400 => "Redirect", < 500 => "Client Error", < 600 => "Server Error", _ => "Global Failure" },
    };
}
