using System.Globalization;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Dialogs;

/// <summary>
/// A dialog (RFC 3261 §12): Call-ID, local and remote tag, local and remote URI, remote target, route set and CSeq
/// numbers, built from the INVITE (UAS) or its 2xx (UAC), refreshed by target-refresh requests, and able to build
/// the next request inside it.
/// </summary>
public sealed class SipDialog
{
    private SipDialog(string callId, string localTag, string localUri, string remoteUri, SipEndPoint peer)
    {
        CallId = callId;
        LocalTag = localTag;
        LocalUri = localUri;
        RemoteUri = remoteUri;
        RemoteTarget = remoteUri;
        Peer = peer;
    }

    /// <summary>The Call-ID.</summary>
    public string CallId { get; }

    /// <summary>Our tag.</summary>
    public string LocalTag { get; }

    /// <summary>The peer's tag (null while early on the UAC side).</summary>
    public string? RemoteTag { get; set; }

    /// <summary>Our URI (From of requests we send).</summary>
    public string LocalUri { get; }

    /// <summary>The peer's URI (To of requests we send).</summary>
    public string RemoteUri { get; }

    /// <summary>Display name we present.</summary>
    public string? LocalDisplay { get; init; }

    /// <summary>The peer's Contact: the Request-URI of requests inside the dialog.</summary>
    public string RemoteTarget { get; set; }

    /// <summary>The route set, in the order requests carry it.</summary>
    public List<string> RouteSet { get; } = [];

    /// <summary>The last CSeq number we used.</summary>
    public uint LocalCSeq { get; private set; }

    /// <summary>The highest CSeq number the peer used (0 before its first request).</summary>
    public uint RemoteCSeq { get; private set; }

    /// <summary>Where the peer is reached (transport address).</summary>
    public SipEndPoint Peer { get; set; }

    /// <summary>The key under which incoming requests of this dialog are found: Call-ID and our tag.</summary>
    public string Key => KeyOf(CallId, LocalTag);

    /// <summary>The dialog key for a Call-ID and local tag.</summary>
    public static string KeyOf(string callId, string? localTag) => callId + "|" + localTag;

    /// <summary>The UAS side of a dialog created by an incoming INVITE (RFC 3261 §12.1.1).</summary>
    public static SipDialog ForIncoming(SipRequest invite, string localTag, SipEndPoint source)
    {
        var d = new SipDialog(invite.CallId, localTag, invite.To.Uri, invite.From.Uri, source)
        {
            RemoteTag = invite.From.Tag,
            RemoteTarget = invite[SipHeaderNames.Contact] is { } c ? NameAddress.Parse(c).Uri : invite.From.Uri,
        };
        d.RouteSet.AddRange(invite.All(SipHeaderNames.RecordRoute));
        d.RemoteCSeq = invite.CSeq.Number;
        return d;
    }

    /// <summary>The UAC side of a dialog we are about to create with an INVITE (completed by <see cref="OnResponse"/>).</summary>
    public static SipDialog ForOutgoing(string callId, string localTag, string localUri, string remoteUri, string remoteTarget, SipEndPoint peer, string? display = null) =>
        new(callId, localTag, localUri, remoteUri, peer) { RemoteTarget = remoteTarget, LocalDisplay = display };

    /// <summary>UAC: takes the remote tag from a provisional or final response, and target and route set from a 2xx (§12.1.2).</summary>
    public void OnResponse(SipResponse response)
    {
        RemoteTag ??= response.To.Tag;
        if (response.StatusCode is < 200 or >= 300) return;
        RemoteTag = response.To.Tag;
        if (response[SipHeaderNames.Contact] is { } contact) RemoteTarget = NameAddress.Parse(contact).Uri;
        RouteSet.Clear();
        RouteSet.AddRange(response.All(SipHeaderNames.RecordRoute).Reverse());
    }

    /// <summary>
    /// Accepts a request inside the dialog (§12.2.2): false when its CSeq is lower than one seen before (answer 500);
    /// a target-refresh request (re-INVITE, UPDATE) moves the remote target.
    /// </summary>
    public bool OnRequest(SipRequest request)
    {
        var cseq = request.CSeq.Number;
        if (request.Method is not ("ACK" or "CANCEL"))
        {
            if (RemoteCSeq != 0 && cseq < RemoteCSeq) return false;
            RemoteCSeq = cseq;
        }
        if (request.Method is "INVITE" or "UPDATE" && request[SipHeaderNames.Contact] is { } contact) RemoteTarget = NameAddress.Parse(contact).Uri;
        return true;
    }

    /// <summary>A request inside this dialog with the next CSeq (or the given one, for ACK and CANCEL).</summary>
    public SipRequest NewRequest(string method, string contact, uint? cseq = null)
    {
        var r = new SipRequest(method, RemoteTarget);
        foreach (var route in RouteSet) r.Add(SipHeaderNames.Route, route);
        var display = LocalDisplay is null ? "" : $"\"{LocalDisplay}\" ";
        r.Add(SipHeaderNames.From, $"{display}<{LocalUri}>;tag={LocalTag}");
        r.Add(SipHeaderNames.To, $"<{RemoteUri}>" + (RemoteTag is null ? "" : ";tag=" + RemoteTag));
        r.Add(SipHeaderNames.CallId, CallId);
        uint n = cseq ?? ++LocalCSeq;
        if (cseq is uint given && given > LocalCSeq) LocalCSeq = given;
        r.Add(SipHeaderNames.CSeq, $"{n.ToString(CultureInfo.InvariantCulture)} {method}");
        r.Add(SipHeaderNames.MaxForwards, "70");
        if (method is not ("CANCEL" or "BYE")) r.Add(SipHeaderNames.Contact, contact);
        return r;
    }
}
