using System.Net;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Telephony;

namespace Switchboard.Switch.Registrar;

/// <summary>Why a phone is reached at the source of its REGISTER instead of at its Contact (RFC 3581, RFC 5626 §5).</summary>
public enum FlowReason
{
    /// <summary>The Contact names the source the REGISTER came from (or another port on that host): no NAT in between.</summary>
    ContactMatchesSource,
    /// <summary>TCP or TLS: the phone is reached over the connection it registered on, whatever its Contact says.</summary>
    ConnectionOriented,
    /// <summary>The Contact names another address than the REGISTER's source: a NAT rewrote the source.</summary>
    ContactAddressDiffers,
    /// <summary>The Contact is a name, 0.0.0.0, a multicast address or loopback from a remote host: nothing to send to.</summary>
    ContactUnroutable,
}

/// <summary>
/// Where a registered phone is reached: the flow its REGISTER came in on (protocol and source address, on TCP the
/// connection) unless its Contact names that same host, as Kamailio's nathelper fix_nated_contact and Asterisk's
/// rewrite_contact do. A Contact on the source host but another port is used as written: a registering agent (or a
/// test's sipp) may register for a phone on another port of its own host, and that address is as reachable as the source.
/// </summary>
public readonly record struct PhoneFlow(SipEndPoint EndPoint, FlowReason Reason)
{
    /// <summary>True when the Contact did not name the phone's real address: the phone sits behind NAT (or lies about itself).</summary>
    public bool NatDetected => Reason is FlowReason.ContactAddressDiffers or FlowReason.ContactUnroutable;

    /// <summary>The flow of a stored binding; null when its source is unreadable (a store written by hand).</summary>
    public static PhoneFlow? Of(PhoneBinding b)
    {
        if (!TryParseSource(b.Source, out var source)) return null;
        return Of(b.Contact, source);
    }

    /// <summary>The flow of a Contact registered from <paramref name="source"/>.</summary>
    public static PhoneFlow Of(string contact, SipEndPoint source)
    {
        var src = LocalAddressSelector.Normalize(source.Address.Address);
        var uri = SipUri.Parse(contact);
        IPAddress? ip = null;
        bool literal = uri is not null && IPAddress.TryParse(uri.Host.Trim('[', ']'), out ip);
        if (!literal || ip is null || (LocalAddressSelector.IsUnusableTowardsRemote(ip) && !(IPAddress.IsLoopback(ip) && IPAddress.IsLoopback(src))))
            return new PhoneFlow(source, FlowReason.ContactUnroutable);
        ip = LocalAddressSelector.Normalize(ip);
        if (!ip.Equals(src)) return new PhoneFlow(source, FlowReason.ContactAddressDiffers);
        if (source.Protocol.IsReliable()) return new PhoneFlow(source, FlowReason.ConnectionOriented);
        return new PhoneFlow(new SipEndPoint(SipProtocol.Udp, new IPEndPoint(source.Address.Address, uri!.PortOrDefault)), FlowReason.ContactMatchesSource);
    }

    /// <summary>The stored form of a flow's source: "udp:10.1.2.3:5060", "tcp:[2001:db8::1]:5060".</summary>
    public static string FormatSource(SipEndPoint source) => $"{source.Protocol.ToString().ToLowerInvariant()}:{source.Address}";

    /// <summary>Reads a stored source; the protocol prefix is "udp", "tcp" or "tls".</summary>
    public static bool TryParseSource(string s, out SipEndPoint source)
    {
        source = default;
        int colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return false;
        SipProtocol protocol;
        if (s.AsSpan(0, colon).SequenceEqual("tcp")) protocol = SipProtocol.Tcp;
        else if (s.AsSpan(0, colon).SequenceEqual("udp")) protocol = SipProtocol.Udp;
        else if (s.AsSpan(0, colon).SequenceEqual("tls")) protocol = SipProtocol.Tls;
        else return false;
        if (!IPEndPoint.TryParse(s.AsSpan(colon + 1), out var ep) || ep.Port == 0) return false;
        source = new SipEndPoint(protocol, ep);
        return true;
    }
}
