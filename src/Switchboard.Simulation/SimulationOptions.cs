namespace Switchboard.Simulation;

/// <summary>Settings of the simulated phone system (configuration section "Simulation").</summary>
public sealed class SimulationOptions
{
    /// <summary>The simulated extensions.</summary>
    public List<string> Devices { get; set; } = ["100", "101", "102", "103", "104", "105"];

    /// <summary>How long a simulated outside party rings before it answers.</summary>
    public TimeSpan OutsideAnswerDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Numbers not a device with at least this many digits are outside numbers.</summary>
    public int MinOutsideDigits { get; set; } = 5;

    /// <summary>Devices whose simulated phone is switched off (commands reply 480), to try out error handling.</summary>
    public List<string> UnreachableDevices { get; set; } = [];

    /// <summary>Devices whose simulated phone cannot be answered remotely (Answer replies 501).</summary>
    public List<string> ManualAnswerDevices { get; set; } = [];

    /// <summary>When true, the whole simulated phone system is down (every command replies 503).</summary>
    public bool Offline { get; set; }

    /// <summary>Maximum simultaneous calls per device, as a phone's line keys would allow.</summary>
    public int MaxCallsPerDevice { get; set; } = 4;
}
