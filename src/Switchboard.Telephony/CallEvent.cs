namespace Switchboard.Telephony;

/// <summary>Event names, after the CSTA (ECMA-269) call and feature events.</summary>
public enum CallEventType
{
    /// <summary>The device has started an outgoing call (its phone is seized).</summary>
    Originated,
    /// <summary>A call is being delivered: the called device rings.</summary>
    Delivered,
    /// <summary>The call has been answered.</summary>
    Established,
    /// <summary>The device has put the call on hold.</summary>
    Held,
    /// <summary>The device has taken the call back from hold.</summary>
    Retrieved,
    /// <summary>The device has left the call.</summary>
    ConnectionCleared,
    /// <summary>The call was moved away from the device (deflect, forward, pickup).</summary>
    Diverted,
    /// <summary>The call was transferred; the transferring device left.</summary>
    Transferred,
    /// <summary>The device's calls were joined into a conference.</summary>
    Conferenced,
    /// <summary>The call could not be completed (busy, unreachable, refused).</summary>
    Failed,
    /// <summary>Forwarding of the device was set or cleared.</summary>
    Forwarding,
    /// <summary>Do-not-disturb of the device was set or cleared.</summary>
    DoNotDisturb,
}

/// <summary>
/// One call event as seen by one device: <see cref="Device"/> is the observing device, <see cref="State"/> its own
/// connection state afterwards, <see cref="Subject"/> the party whose connection changed. Sequence numbers grow by one
/// per event across all devices.
/// </summary>
public sealed record CallEvent(
    long Sequence,
    DateTimeOffset Time,
    CallEventType Type,
    string Device,
    string? CallId,
    ConnectionState State,
    string? Subject,
    string? Calling,
    string? Called,
    string? Cause)
{
    /// <summary>The event as one TCP line (without line end): <c>EVENT seq Name dev key=value…</c>.</summary>
    public string ToLine()
    {
        var sb = new System.Text.StringBuilder(96);
        sb.Append("EVENT ").Append(Sequence).Append(' ').Append(Type).Append(' ').Append(Device);
        if (CallId is not null) sb.Append(" call=").Append(CallId);
        sb.Append(" state=").Append(State.ToWire());
        if (Subject is not null) sb.Append(" subject=").Append(Subject);
        if (Calling is not null) sb.Append(" calling=").Append(Calling);
        if (Called is not null) sb.Append(" called=").Append(Called);
        if (Cause is not null) sb.Append(" cause=").Append(Cause.Replace(' ', '_'));
        return sb.ToString();
    }
}
