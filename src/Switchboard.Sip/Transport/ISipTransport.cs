using System.Net;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Transport;

/// <summary>
/// What the transaction layer needs of a SIP transport (RFC 3261 §18): messages in, messages out, and the addresses to
/// write into Via and Contact. <see cref="SipTransport"/> is the one on sockets; <see cref="InMemorySipTransport"/>
/// carries the same bytes between endpoints of an <see cref="InMemorySipNetwork"/>, so a feature of the switch can be
/// tested without ports, as Kestrel's in-memory transport does for HTTP.
/// </summary>
public interface ISipTransport : IAsyncDisposable
{
    /// <summary>Which local address to write towards each peer (Via, Contact, SDP).</summary>
    LocalAddressSelector Addresses { get; }

    /// <summary>The endpoint this transport receives on.</summary>
    IPEndPoint LocalEndPoint { get; }

    /// <summary>The local port peers reach this transport at for <paramref name="protocol"/> (Via sent-by, Contact).</summary>
    int PortFor(SipProtocol protocol) => LocalEndPoint.Port;

    /// <summary>The TLS listener's endpoint, or null when this transport has none.</summary>
    IPEndPoint? TlsLocalEndPoint => null;

    /// <summary>The per-device message trace (<c>switchboard ctl sip-trace on EXT</c>), off until switched on.</summary>
    SipMessageTrace Trace { get; }

    /// <summary>Messages received that were malformed (answered with 400 or dropped).</summary>
    long MalformedCount { get; }

    /// <summary>Starts receiving; each valid message goes to <paramref name="handler"/>.</summary>
    void Start(Func<SipMessage, SipEndPoint, Task> handler);

    /// <summary>Sends a message to a transport address; throws <see cref="SipTransportException"/> when it cannot.</summary>
    Task SendAsync(SipMessage message, SipEndPoint to);
}
