namespace Switchboard.Interface.Commands;

/// <summary>The verbs of the IP interface: the nine TAPIMaster commands plus Status and Monitor.</summary>
public enum CommandVerb
{
    /// <summary><c>MakeCall dev number</c></summary>
    MakeCall,
    /// <summary><c>Answer dev</c></summary>
    Answer,
    /// <summary><c>Drop dev</c></summary>
    Drop,
    /// <summary><c>Redirect dev target</c></summary>
    Redirect,
    /// <summary><c>Toggle dev</c></summary>
    Toggle,
    /// <summary><c>Transfer dev</c></summary>
    Transfer,
    /// <summary><c>Conference dev</c></summary>
    Conference,
    /// <summary><c>Pickup dev other</c></summary>
    Pickup,
    /// <summary><c>Forward dev [target|*]</c></summary>
    Forward,
    /// <summary><c>Status dev</c></summary>
    Status,
    /// <summary><c>Monitor dev|* [last-seq]</c></summary>
    Monitor,
    /// <summary><c>Hold dev</c> (extension, not in the seed)</summary>
    Hold,
    /// <summary><c>Retrieve dev</c> (extension, not in the seed)</summary>
    Retrieve,
    /// <summary><c>Dtmf dev digits</c> (extension, not in the seed)</summary>
    Dtmf,
}

/// <summary>
/// One parsed command line. <see cref="Device"/> is as written (it may be the NNNNN placeholder); <see cref="Argument"/>
/// is the normalised number, the other device, "*" for do-not-disturb, or a sequence number for Monitor.
/// </summary>
public sealed record Command(CommandVerb Verb, string Device, string? Argument)
{
    /// <summary>The placeholder for the extension mapped to the client's address.</summary>
    public const string OwnExtensionPlaceholder = "NNNNN";

    /// <summary>True when the device argument is the NNNNN placeholder.</summary>
    public bool DeviceIsPlaceholder => Device == OwnExtensionPlaceholder;

    /// <summary>True when the second argument is the NNNNN placeholder.</summary>
    public bool ArgumentIsPlaceholder => Argument == OwnExtensionPlaceholder;
}
