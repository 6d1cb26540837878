namespace Switchboard.Sip.Messages;

/// <summary>Header names in their canonical spelling, and the compact forms of RFC 3261 §7.3.3 (and RFC 3515, 4028).</summary>
public static class SipHeaderNames
{
    /// <summary>Via</summary>
    public const string Via = "Via";
    /// <summary>From</summary>
    public const string From = "From";
    /// <summary>To</summary>
    public const string To = "To";
    /// <summary>Call-ID</summary>
    public const string CallId = "Call-ID";
    /// <summary>CSeq</summary>
    public const string CSeq = "CSeq";
    /// <summary>Contact</summary>
    public const string Contact = "Contact";
    /// <summary>Max-Forwards</summary>
    public const string MaxForwards = "Max-Forwards";
    /// <summary>Content-Type</summary>
    public const string ContentType = "Content-Type";
    /// <summary>Content-Length</summary>
    public const string ContentLength = "Content-Length";
    /// <summary>Route</summary>
    public const string Route = "Route";
    /// <summary>Record-Route</summary>
    public const string RecordRoute = "Record-Route";
    /// <summary>Expires</summary>
    public const string Expires = "Expires";
    /// <summary>Authorization</summary>
    public const string Authorization = "Authorization";
    /// <summary>Proxy-Authorization</summary>
    public const string ProxyAuthorization = "Proxy-Authorization";
    /// <summary>WWW-Authenticate</summary>
    public const string WwwAuthenticate = "WWW-Authenticate";
    /// <summary>Proxy-Authenticate</summary>
    public const string ProxyAuthenticate = "Proxy-Authenticate";
    /// <summary>User-Agent</summary>
    public const string UserAgent = "User-Agent";
    /// <summary>Allow</summary>
    public const string Allow = "Allow";
    /// <summary>Allow-Events</summary>
    public const string AllowEvents = "Allow-Events";
    /// <summary>Supported</summary>
    public const string Supported = "Supported";
    /// <summary>Event</summary>
    public const string Event = "Event";
    /// <summary>Refer-To</summary>
    public const string ReferTo = "Refer-To";
    /// <summary>Warning</summary>
    public const string Warning = "Warning";

    /// <summary>The full name for a compact one-letter form, or the name itself.</summary>
    public static string Expand(string name)
    {
        if (name.Length != 1) return name;
        return char.ToLowerInvariant(name[0]) switch
        {
            'i' => CallId,
            'm' => Contact,
            'f' => From,
            't' => To,
            'v' => Via,
            'l' => ContentLength,
            'c' => ContentType,
            'k' => Supported,
            's' => "Subject",
            'o' => Event,
            'r' => ReferTo,
            'u' => AllowEvents,
            'x' => "Session-Expires",
            'b' => "Referred-By",
            'e' => "Content-Encoding",
            _ => name,
        };
    }

    /// <summary>
    /// Headers whose value is a comma-separated list (RFC 3261 §7.3.1), which the parser splits into one entry per
    /// element so that multi-value and repeated forms look the same.
    /// </summary>
    public static bool IsList(string name) =>
        name.Equals(Via, StringComparison.OrdinalIgnoreCase) || name.Equals(Contact, StringComparison.OrdinalIgnoreCase)
        || name.Equals(Route, StringComparison.OrdinalIgnoreCase) || name.Equals(RecordRoute, StringComparison.OrdinalIgnoreCase)
        || name.Equals(Allow, StringComparison.OrdinalIgnoreCase) || name.Equals(Supported, StringComparison.OrdinalIgnoreCase)
        || name.Equals(AllowEvents, StringComparison.OrdinalIgnoreCase) || name.Equals("Require", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Proxy-Require", StringComparison.OrdinalIgnoreCase) || name.Equals("Unsupported", StringComparison.OrdinalIgnoreCase);
}
