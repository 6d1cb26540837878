using System.Net;
using Switchboard.Telephony;

namespace Switchboard.Interface.Commands;

/// <summary>Which front end a command arrived on.</summary>
public enum FrontEndKind
{
    /// <summary>A TCP stream connection.</summary>
    Tcp,
    /// <summary>A UDP datagram.</summary>
    Udp,
    /// <summary>An HTTP request on the stream port.</summary>
    Http,
    /// <summary>A line of a dial file.</summary>
    DialFile,
}

/// <summary>Where a command came from, and what the front end can do beyond one reply.</summary>
public sealed class ClientContext(FrontEndKind frontEnd, IPAddress? address)
{
    /// <summary>The front end.</summary>
    public FrontEndKind FrontEnd { get; } = frontEnd;

    /// <summary>The client's address; null for dial files.</summary>
    public IPAddress? Address { get; } = address;

    /// <summary>The HTTP Origin header, if any.</summary>
    public string? Origin { get; init; }

    /// <summary>Starts an event subscription on this connection (TCP only); null where events cannot be delivered.</summary>
    public Func<string, long?, CallControlResult>? Monitor { get; init; }

    /// <summary>When true, the command is checked but not carried out (HTTP HEAD).</summary>
    public bool ValidateOnly { get; init; }
}
