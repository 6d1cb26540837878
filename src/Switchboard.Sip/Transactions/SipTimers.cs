namespace Switchboard.Sip.Transactions;

/// <summary>The RFC 3261 timer base values (§17, Table 4); the lettered timers derive from them.</summary>
public sealed class SipTimers
{
    /// <summary>RTT estimate; default 500 ms.</summary>
    public TimeSpan T1 { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4 s.</summary>
    public TimeSpan T2 { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Maximum time a message remains in the network; default 5 s.</summary>
    public TimeSpan T4 { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Timers B, F, H, J, L, M: 64*T1.</summary>
    public TimeSpan Timeout64 => T1 * 64;

    /// <summary>Timer D: at least 32 s for UDP.</summary>
    public TimeSpan TimerD => Timeout64 > TimeSpan.FromSeconds(32) ? Timeout64 : TimeSpan.FromSeconds(32);

    /// <summary>The defaults.</summary>
    public static SipTimers Default { get; } = new();
}
