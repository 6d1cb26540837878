using Switchboard.Media.Rtp;

namespace Switchboard.Media;

public sealed partial class RtpEndpoint
{
    // Fed on the receive path for every admitted packet (so relayed streams are measured too, not only mixed ones).
    private readonly RtpReceptionStats _reception = new();

    /// <summary>Packets of the phone's stream that never arrived, from gaps in its sequence numbers (RFC 3550 §6.4.1).</summary>
    public long PacketsLost => _reception.Lost;

    /// <summary>The interarrival jitter of the phone's stream in milliseconds (RFC 3550 §6.4.1); 0 before two packets.</summary>
    public double JitterMilliseconds => _reception.JitterMilliseconds;

    /// <summary>Whether any packet of the phone's stream was admitted (a stream without one has no jitter to tell).</summary>
    public bool HasReceived => _reception.HasData;
}
