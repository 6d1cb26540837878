namespace Switchboard.Media;

/// <summary>Settings of the <see cref="MediaEngine"/>: where RTP sockets bind and how much jitter to absorb.</summary>
public sealed class MediaEngineOptions
{
    /// <summary>Largest <see cref="RelatchAfterMilliseconds"/>: past a minute a moved phone would be deaf for too long to matter.</summary>
    public const int MaxRelatchAfterMilliseconds = 60_000;

    /// <summary>IP address the RTP sockets bind to.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Lowest RTP port; 0 together with <see cref="PortMax"/> 0 lets the OS pick.</summary>
    public int PortMin { get; set; }

    /// <summary>Highest RTP port; 0 together with <see cref="PortMin"/> 0 lets the OS pick.</summary>
    public int PortMax { get; set; }

    /// <summary>Playout delay of every jitter buffer in 20 ms frames (0–16).</summary>
    public int PlayoutDelayFrames { get; set; } = 2;

    /// <summary>
    /// Symmetric RTP: how long the source an endpoint latched onto must have been silent before another source that
    /// sends the latched SSRC takes its place (a NAT mapping that moved). 0–60000 ms; 0 re-latches at once.
    /// </summary>
    public int RelatchAfterMilliseconds { get; set; } = 2000;
}
