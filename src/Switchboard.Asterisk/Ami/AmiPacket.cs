namespace Switchboard.Asterisk.Ami;

/// <summary>One AMI packet: the header lines of a response or event, in wire order.</summary>
public sealed class AmiPacket
{
    private readonly List<KeyValuePair<string, string>> _headers;

    /// <summary>Creates a packet from its headers, in wire order.</summary>
    public AmiPacket(List<KeyValuePair<string, string>> headers)
    {
        _headers = headers;
    }

    /// <summary>The headers in wire order; names may repeat (Output, Variable).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>True when the first line is <c>Response:</c>; an OriginateResponse event carries a Response header too, so only the first line counts.</summary>
    public bool IsResponse => _headers.Count > 0 && _headers[0].Key.Equals("Response", StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the first line is <c>Event:</c>.</summary>
    public bool IsEvent => _headers.Count > 0 && _headers[0].Key.Equals("Event", StringComparison.OrdinalIgnoreCase);

    /// <summary>The event name or response status (the first line's value).</summary>
    public string Kind => _headers.Count > 0 ? _headers[0].Value : "";

    /// <summary>The ActionID, looked up by name because its position differs between packet kinds.</summary>
    public string? ActionId => this["ActionID"];

    /// <summary>The first value of a header (names are case-insensitive), or null.</summary>
    public string? this[string name]
    {
        get
        {
            foreach (var h in _headers)
                if (h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)) return h.Value;
            return null;
        }
    }

    /// <summary>Every value of a repeated header, e.g. the <c>Output:</c> lines of a Command response.</summary>
    public IReadOnlyList<string> All(string name)
    {
        var list = new List<string>();
        foreach (var h in _headers)
            if (h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)) list.Add(h.Value);
        return list;
    }

    /// <summary>The packet as text (for logs and tests); a Secret header is masked.</summary>
    public override string ToString() =>
        string.Join("\r\n", _headers.Select(h => h.Key + ": " + (h.Key.Equals("Secret", StringComparison.OrdinalIgnoreCase) ? "***" : h.Value)));
}

/// <summary>An action to send: its name and headers; the client adds the ActionID.</summary>
public sealed class AmiAction
{
    private readonly List<KeyValuePair<string, string>> _headers = [];

    /// <summary>Creates an action with the given name.</summary>
    public AmiAction(string name)
    {
        Validate(name);
        Name = name;
    }

    /// <summary>The action name.</summary>
    public string Name { get; }

    /// <summary>The headers after <c>Action:</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>Adds a header; CR or LF in a value is refused because it would inject headers or end the packet.</summary>
    public AmiAction Add(string name, string value)
    {
        Validate(name);
        Validate(value);
        _headers.Add(new(name, value));
        return this;
    }

    /// <summary>The first value of a header, or null.</summary>
    public string? this[string name] => _headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    private static void Validate(string s)
    {
        if (s.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException("AMI header names and values must not contain CR or LF", nameof(s));
    }
}

/// <summary>The answer to an action: the response packet and, for event lists, the list items.</summary>
public sealed class AmiResponse(AmiPacket packet, IReadOnlyList<AmiPacket> items)
{
    /// <summary>The <c>Response:</c> packet.</summary>
    public AmiPacket Packet { get; } = packet;

    /// <summary>The events of an event list (between <c>EventList: start</c> and the *Complete event), else empty.</summary>
    public IReadOnlyList<AmiPacket> Items { get; } = items;

    /// <summary>True for <c>Response: Success</c> (and <c>Goodbye</c> after Logoff).</summary>
    public bool IsSuccess => Packet.Kind.Equals("Success", StringComparison.OrdinalIgnoreCase) || Packet.Kind.Equals("Goodbye", StringComparison.OrdinalIgnoreCase);

    /// <summary>The Message header.</summary>
    public string Message => Packet["Message"] ?? "";

    /// <summary>The <c>Output:</c> lines of a Command response (Asterisk 22 sends no --END COMMAND-- block).</summary>
    public IReadOnlyList<string> Output => Packet.All("Output");
}
