namespace Switchboard.Media.Codecs;

/// <summary>The audio codecs the engine speaks: G.711 in its two laws.</summary>
public enum AudioCodec
{
    /// <summary>G.711 µ-law, static RTP payload type 0.</summary>
    Pcmu = 0,

    /// <summary>G.711 A-law, static RTP payload type 8.</summary>
    Pcma = 8,
}
