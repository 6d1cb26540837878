using System.Globalization;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Switch.Calls;

/// <summary>
/// One call leg of the B2BUA: the dialog (RFC 3261 §12) between the switch and one phone, with the state needed to
/// send requests inside it (Call-ID, tags, remote target, CSeq, route set) and where the phone is reached.
/// </summary>
internal sealed class Leg
{
    public Leg(string callId, string localTag, string localUri, string remoteUri, SipEndPoint peer)
    {
        CallId = callId;
        LocalTag = localTag;
        LocalUri = localUri;
        RemoteUri = remoteUri;
        RemoteTarget = remoteUri;
        Peer = peer;
    }

    public string CallId { get; }

    public string LocalTag { get; }

    public string? RemoteTag { get; set; }

    /// <summary>Our identity on this leg (From of requests we send).</summary>
    public string LocalUri { get; }

    /// <summary>The phone's identity (To of requests we send).</summary>
    public string RemoteUri { get; }

    /// <summary>Display name we present on this leg.</summary>
    public string? LocalDisplay { get; init; }

    /// <summary>The phone's Contact: the Request-URI of in-dialog requests.</summary>
    public string RemoteTarget { get; set; }

    public List<string> RouteSet { get; } = [];

    public uint LocalCSeq { get; set; } = 1;

    /// <summary>Where the phone is reached.</summary>
    public SipEndPoint Peer { get; set; }

    /// <summary>The device at the phone end.</summary>
    public required string Device { get; init; }

    /// <summary>The last SDP the phone offered or answered.</summary>
    public byte[] Sdp { get; set; } = [];

    public bool Confirmed { get; set; }

    public bool Ended { get; set; }

    /// <summary>A request inside this dialog, with the next CSeq (or the given one, for ACK).</summary>
    public SipRequest NewRequest(string method, string contact, uint? cseq = null)
    {
        var r = new SipRequest(method, RemoteTarget);
        foreach (var route in RouteSet) r.Add(SipHeaderNames.Route, route);
        var display = LocalDisplay is null ? "" : $"\"{LocalDisplay}\" ";
        r.Add(SipHeaderNames.From, $"{display}<{LocalUri}>;tag={LocalTag}");
        r.Add(SipHeaderNames.To, $"<{RemoteUri}>" + (RemoteTag is null ? "" : ";tag=" + RemoteTag));
        r.Add(SipHeaderNames.CallId, CallId);
        uint n = cseq ?? ++LocalCSeq;
        r.Add(SipHeaderNames.CSeq, $"{n.ToString(CultureInfo.InvariantCulture)} {method}");
        r.Add(SipHeaderNames.MaxForwards, "70");
        r.Add(SipHeaderNames.Contact, contact);
        return r;
    }
}
