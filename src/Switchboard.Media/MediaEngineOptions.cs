namespace Switchboard.Media;

/// <summary>Settings of the <see cref="MediaEngine"/>: where RTP sockets bind and how much jitter to absorb.</summary>
public sealed class MediaEngineOptions
{
    /// <summary>IP address the RTP sockets bind to.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Lowest RTP port; 0 together with <see cref="PortMax"/> 0 lets the OS pick.</summary>
    public int PortMin { get; set; }

    /// <summary>Highest RTP port; 0 together with <see cref="PortMin"/> 0 lets the OS pick.</summary>
    public int PortMax { get; set; }

    /// <summary>Playout delay of every jitter buffer in 20 ms frames (0–16).</summary>
    public int PlayoutDelayFrames { get; set; } = 2;
}
