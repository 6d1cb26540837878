using System.Globalization;
using System.Text;

namespace Switchboard.Sip.Messages;

/// <summary>A SIP header field: name (canonical for known compact forms) and raw value.</summary>
public readonly record struct SipHeader(string Name, string Value);

/// <summary>A SIP request or response: ordered headers and a body (RFC 3261 §7).</summary>
public abstract class SipMessage
{
    /// <summary>Headers in wire order; list headers hold one element per entry.</summary>
    public List<SipHeader> Headers { get; } = [];

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

    /// <summary>The Call-ID.</summary>
    public string CallId => this[SipHeaderNames.CallId] ?? "";

    /// <summary>The parsed CSeq (number and method).</summary>
    public CSeq CSeq => CSeq.Parse(this[SipHeaderNames.CSeq] ?? "");

    /// <summary>The From header as name-addr.</summary>
    public NameAddress From => NameAddress.Parse(this[SipHeaderNames.From] ?? "");

    /// <summary>The To header as name-addr.</summary>
    public NameAddress To => NameAddress.Parse(this[SipHeaderNames.To] ?? "");

    /// <summary>The top Via.</summary>
    public ViaHeader? TopVia => this[SipHeaderNames.Via] is { } v ? ViaHeader.Parse(v) : null;

    /// <summary>The body as text (UTF-8).</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>The start line.</summary>
    public abstract string StartLine { get; }

    /// <summary>The message on the wire; Content-Length is always written from the body.</summary>
    public byte[] ToBytes()
    {
        var sb = new StringBuilder(512);
        sb.Append(StartLine).Append("\r\n");
        foreach (var h in Headers)
        {
            if (h.Name.Equals(SipHeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            sb.Append(h.Name).Append(": ").Append(h.Value).Append("\r\n");
        }
        sb.Append(SipHeaderNames.ContentLength).Append(": ").Append(Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        var head = Encoding.UTF8.GetBytes(sb.ToString());
        if (Body.Length == 0) return head;
        var all = new byte[head.Length + Body.Length];
        head.CopyTo(all, 0);
        Body.CopyTo(all, head.Length);
        return all;
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
