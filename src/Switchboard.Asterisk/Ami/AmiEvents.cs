using System.Globalization;

namespace Switchboard.Asterisk.Ami;

/// <summary>A typed AMI event; <see cref="Packet"/> keeps every header for what the record does not name.</summary>
public abstract record AmiEvent(AmiPacket Packet)
{
    /// <summary>The event name.</summary>
    public string Name => Packet.Kind;

    /// <summary>Turns a packet into the typed record for the events the connector uses, else <see cref="GenericEvent"/>.</summary>
    public static AmiEvent From(AmiPacket p) => p.Kind switch
    {
        "Newchannel" or "Newstate" or "Hold" or "Unhold" or "BridgeEnter" or "BridgeLeave" or "CoreShowChannel" or "Status"
            or "NewCallerid" => ChannelEvent.Read(p),
        "Hangup" => new HangupEvent(ChannelEvent.Read(p), ParseInt(p["Cause"]), p["Cause-txt"] ?? "", p["TechCause"]),
        "DialBegin" or "DialState" or "DialEnd" => new DialEvent(p, p["Channel"], p["Uniqueid"], p["DestChannel"] ?? "", p["DestUniqueid"] ?? "", p["DialStatus"]),
        "OriginateResponse" => new OriginateResponseEvent(p, string.Equals(p["Response"], "Success", StringComparison.OrdinalIgnoreCase),
            p["Channel"] ?? "", p["Uniqueid"] ?? "", ParseInt(p["Reason"])),
        "BlindTransfer" => new BlindTransferEvent(p, p["Result"] ?? "", p["TransfererChannel"] ?? "", p["TransfererUniqueid"] ?? "",
            p["TransfereeChannel"] ?? "", p["TransfereeUniqueid"] ?? "", p["Extension"] ?? "", p["Context"] ?? ""),
        "AttendedTransfer" => new AttendedTransferEvent(p, p["Result"] ?? "", p["OrigTransfererUniqueid"] ?? "", p["SecondTransfererUniqueid"] ?? ""),
        "Pickup" => new PickupEvent(p, p["Channel"] ?? "", p["Uniqueid"] ?? "", p["TargetChannel"] ?? "", p["TargetUniqueid"] ?? ""),
        "ConfbridgeStart" or "ConfbridgeEnd" or "ConfbridgeJoin" or "ConfbridgeLeave" or "ConfbridgeList" =>
            new ConfbridgeEvent(p, p["Conference"] ?? "", p["Channel"], p["Uniqueid"]),
        "DeviceStateChange" => new DeviceStateChangeEvent(p, p["Device"] ?? "", p["State"] ?? ""),
        "PeerStatus" => new PeerStatusEvent(p, p["Peer"] ?? "", p["PeerStatus"] ?? ""),
        "ContactStatus" => new ContactStatusEvent(p, p["AOR"] ?? p["EndpointName"] ?? "", p["ContactStatus"] ?? ""),
        "DBGetResponse" => new DbGetResponseEvent(p, p["Family"] ?? "", p["Key"] ?? "", p["Val"] ?? ""),
        "Rename" => new RenameEvent(p, p["Channel"] ?? "", p["Newname"] ?? "", p["Uniqueid"] ?? ""),
        _ => new GenericEvent(p),
    };

    internal static int ParseInt(string? s) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : -1;
}

/// <summary>An event the connector has no record for.</summary>
public sealed record GenericEvent(AmiPacket Packet) : AmiEvent(Packet);

/// <summary>An event about one channel: Newchannel, Newstate, Hold, Unhold, BridgeEnter/Leave, CoreShowChannel, Status.</summary>
public sealed record ChannelEvent(AmiPacket Packet, string Channel, string Uniqueid, string Linkedid, int ChannelState, string Exten,
    string CallerIdNum, string ConnectedLineNum) : AmiEvent(Packet)
{
    /// <summary>Asterisk's channel state for ringing at the phone.</summary>
    public const int StateRinging = 5;

    /// <summary>Asterisk's channel state for answered.</summary>
    public const int StateUp = 6;

    internal static ChannelEvent Read(AmiPacket p) => new(p, p["Channel"] ?? "", p["Uniqueid"] ?? "", p["Linkedid"] ?? p["Uniqueid"] ?? "",
        ParseInt(p["ChannelState"]), p["Exten"] ?? "", p["CallerIDNum"] ?? "", p["ConnectedLineNum"] ?? "");
}

/// <summary>A channel hung up; <see cref="TechCause"/> is the SIP code Asterisk 22 adds.</summary>
public sealed record HangupEvent(ChannelEvent Channel, int Cause, string CauseText, string? TechCause) : AmiEvent(Channel.Packet);

/// <summary>DialBegin/DialState/DialEnd; for an originated leg there is no calling channel, only Dest* fields.</summary>
public sealed record DialEvent(AmiPacket Packet, string? Channel, string? Uniqueid, string DestChannel, string DestUniqueid, string? DialStatus) : AmiEvent(Packet);

/// <summary>The outcome of an async Originate; on failure Channel is the dial string and Uniqueid is the ChannelId or "&lt;unknown&gt;".</summary>
public sealed record OriginateResponseEvent(AmiPacket Packet, bool Success, string Channel, string Uniqueid, int Reason) : AmiEvent(Packet);

/// <summary>A blind transfer in a bridge.</summary>
public sealed record BlindTransferEvent(AmiPacket Packet, string Result, string TransfererChannel, string TransfererUniqueid,
    string TransfereeChannel, string TransfereeUniqueid, string Extension, string Context) : AmiEvent(Packet);

/// <summary>An attended transfer.</summary>
public sealed record AttendedTransferEvent(AmiPacket Packet, string Result, string OrigTransfererUniqueid, string SecondTransfererUniqueid) : AmiEvent(Packet);

/// <summary>A channel picked up a ringing channel (Target*).</summary>
public sealed record PickupEvent(AmiPacket Packet, string Channel, string Uniqueid, string TargetChannel, string TargetUniqueid) : AmiEvent(Packet);

/// <summary>ConfBridge events (Start/End without a channel, Join/Leave/List with one).</summary>
public sealed record ConfbridgeEvent(AmiPacket Packet, string Conference, string? Channel, string? Uniqueid) : AmiEvent(Packet);

/// <summary>A device state (unsolicited, or an item of DeviceStateList).</summary>
public sealed record DeviceStateChangeEvent(AmiPacket Packet, string Device, string State) : AmiEvent(Packet);

/// <summary>An endpoint became reachable or unreachable.</summary>
public sealed record PeerStatusEvent(AmiPacket Packet, string Peer, string Status) : AmiEvent(Packet);

/// <summary>A contact of an AOR was added, removed or qualified.</summary>
public sealed record ContactStatusEvent(AmiPacket Packet, string Aor, string Status) : AmiEvent(Packet);

/// <summary>An item of a DBGet answer.</summary>
public sealed record DbGetResponseEvent(AmiPacket Packet, string Family, string Key, string Value) : AmiEvent(Packet);

/// <summary>A channel was renamed (masquerade).</summary>
public sealed record RenameEvent(AmiPacket Packet, string Channel, string NewName, string Uniqueid) : AmiEvent(Packet);
