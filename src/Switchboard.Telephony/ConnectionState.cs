namespace Switchboard.Telephony;

/// <summary>CSTA (ECMA-269) local connection states of a device in a call.</summary>
public enum ConnectionState
{
    /// <summary>No relation between the device and the call.</summary>
    Null,
    /// <summary>The device has gone off-hook to place a call; the far end is not yet ringing or is ringing.</summary>
    Initiated,
    /// <summary>The device is ringing.</summary>
    Alerting,
    /// <summary>The device is talking in the call.</summary>
    Connected,
    /// <summary>The device has put the call on hold.</summary>
    Held,
    /// <summary>The call could not reach the device (busy, unreachable, refused).</summary>
    Failed,
}

/// <summary>Lower-case wire names of connection states, used in replies and event lines.</summary>
public static class ConnectionStateNames
{
    /// <summary>The wire name of a state.</summary>
    public static string ToWire(this ConnectionState state) => state switch
    {
        ConnectionState.Null => "null",
        ConnectionState.Initiated => "initiated",
        ConnectionState.Alerting => "alerting",
        ConnectionState.Connected => "connected",
        ConnectionState.Held => "held",
        ConnectionState.Failed => "failed",
        _ => "unknown",
    };
}
