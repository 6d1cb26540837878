namespace Switchboard.Media.Codecs;

/// <summary>The audio codecs the engine speaks: G.711 in its two laws, G.722 and Opus.</summary>
/// <remarks>The values of the G.711 and G.722 members are their static RTP payload types; Opus has none (dynamic).</remarks>
public enum AudioCodec
{
    /// <summary>G.711 µ-law, static RTP payload type 0, 8 kHz.</summary>
    Pcmu = 0,

    /// <summary>G.711 A-law, static RTP payload type 8, 8 kHz.</summary>
    Pcma = 8,

    /// <summary>G.722 64 kbit/s, static RTP payload type 9, 16 kHz audio on an 8000 Hz RTP clock.</summary>
    G722 = 9,

    /// <summary>Opus (RFC 7587), a dynamic payload type, 48000 Hz RTP clock; the engine codes it at 16 kHz.</summary>
    Opus = 1000,
}
