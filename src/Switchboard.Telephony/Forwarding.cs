namespace Switchboard.Telephony;

/// <summary>What a device does with calls offered to it: ring, forward all calls, or refuse them (do not disturb).</summary>
public enum ForwardingMode
{
    /// <summary>Calls ring at the device.</summary>
    None,
    /// <summary>All calls are forwarded immediately to <see cref="ForwardingSetting.Target"/>.</summary>
    ForwardAll,
    /// <summary>Do not disturb: calls are refused as busy.</summary>
    DoNotDisturb,
}

/// <summary>A device's forwarding / do-not-disturb setting; it holds until cleared and survives restarts.</summary>
public readonly record struct ForwardingSetting(ForwardingMode Mode, string? Target)
{
    /// <summary>Neither forwarding nor do-not-disturb.</summary>
    public static ForwardingSetting Off => new(ForwardingMode.None, null);

    /// <summary>Do not disturb.</summary>
    public static ForwardingSetting Dnd => new(ForwardingMode.DoNotDisturb, null);

    /// <summary>Forward all calls to target.</summary>
    public static ForwardingSetting To(string target) => new(ForwardingMode.ForwardAll, target);

    /// <summary>Human-readable form used in replies and events.</summary>
    public override string ToString() => Mode switch
    {
        ForwardingMode.ForwardAll => "forward " + Target,
        ForwardingMode.DoNotDisturb => "dnd",
        _ => "off",
    };
}
