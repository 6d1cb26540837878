using System.Diagnostics.CodeAnalysis;

namespace Switchboard.Media.Codecs;

/// <summary>What the engine and the SDP code need to know of each codec: rates, names, payload types.</summary>
public static class AudioCodecs
{
    /// <summary>Payload type the switch offers Opus with (dynamic; baresip and linphone answer with it or their own).</summary>
    public const byte DefaultOpusPayloadType = 111;

    /// <summary>The codecs the switch offers when <c>Media:Codecs</c> is not set, most preferred first.</summary>
    public static IReadOnlyList<AudioCodec> DefaultOrder { get; } = [AudioCodec.Opus, AudioCodec.G722, AudioCodec.Pcmu, AudioCodec.Pcma];

    /// <summary>The RTP timestamp rate (RFC 3551 §4.5.2: 8000 for G.722; RFC 7587 §4.1: always 48000 for Opus).</summary>
    public static int ClockRate(AudioCodec codec) => codec == AudioCodec.Opus ? 48000 : 8000;

    /// <summary>The rate the engine decodes to and encodes from: 8000 for G.711, 16000 for the wideband codecs.</summary>
    public static int SampleRate(AudioCodec codec) => IsWideband(codec) ? 16000 : 8000;

    /// <summary>Whether the codec carries 16 kHz audio (G.722, Opus as the engine uses it).</summary>
    public static bool IsWideband(AudioCodec codec) => codec is AudioCodec.G722 or AudioCodec.Opus;

    /// <summary>The payload type the switch offers the codec with.</summary>
    public static byte DefaultPayloadType(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu => 0,
        AudioCodec.Pcma => 8,
        AudioCodec.G722 => G722.PayloadType,
        AudioCodec.Opus => DefaultOpusPayloadType,
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    /// <summary>The encoding name and parameters of the rtpmap attribute (RFC 4566 §6): "PCMU/8000", "opus/48000/2".</summary>
    public static string RtpMap(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu => "PCMU/8000",
        AudioCodec.Pcma => "PCMA/8000",
        AudioCodec.G722 => "G722/8000",

        // RFC 7587 §7: always two channels in the rtpmap, whether the stream is mono or not.
        AudioCodec.Opus => "opus/48000/2",
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    /// <summary>
    /// The fmtp parameters the switch sends for a codec, or null. Opus: mono both ways (the mixer is mono), in-band FEC
    /// welcome, 20 ms packets (the mixer's tick), as baresip and linphone accept it.
    /// </summary>
    public static string? Fmtp(AudioCodec codec) => codec == AudioCodec.Opus ? "minptime=20;useinbandfec=1;stereo=0;sprop-stereo=0" : null;

    /// <summary>The configuration name of a codec: "opus", "g722", "pcmu", "pcma".</summary>
    public static string Name(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu => "pcmu",
        AudioCodec.Pcma => "pcma",
        AudioCodec.G722 => "g722",
        AudioCodec.Opus => "opus",
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    /// <summary>A configuration name ("opus", "G722", "pcmu" …, case-insensitive) to its codec.</summary>
    public static bool TryParseName(ReadOnlySpan<char> name, out AudioCodec codec)
    {
        foreach (var candidate in DefaultOrder)
        {
            if (name.Trim().Equals(Name(candidate), StringComparison.OrdinalIgnoreCase))
            {
                codec = candidate;
                return true;
            }
        }

        codec = default;
        return false;
    }

    /// <summary>
    /// An rtpmap's encoding name and clock rate (and channels) to the codec the engine can code, or false. Opus is
    /// only taken at 48000/2 (RFC 7587), G.722 only at 8000, G.711 only at 8000 with one channel.
    /// </summary>
    public static bool TryFromRtpMap(ReadOnlySpan<char> encoding, int clockRate, int channels, [NotNullWhen(true)] out AudioCodec? codec)
    {
        codec = null;
        if (encoding.Equals("opus", StringComparison.OrdinalIgnoreCase) && clockRate == 48000 && channels == 2)
        {
            codec = AudioCodec.Opus;
        }
        else if (clockRate == 8000 && channels == 1)
        {
            if (encoding.Equals("PCMU", StringComparison.OrdinalIgnoreCase)) codec = AudioCodec.Pcmu;
            else if (encoding.Equals("PCMA", StringComparison.OrdinalIgnoreCase)) codec = AudioCodec.Pcma;
            else if (encoding.Equals("G722", StringComparison.OrdinalIgnoreCase)) codec = AudioCodec.G722;
        }

        return codec is not null;
    }

    /// <summary>The codec of a static payload type an SDP may use without rtpmap (RFC 3551 table 4), or false.</summary>
    public static bool TryFromStaticPayloadType(int payloadType, [NotNullWhen(true)] out AudioCodec? codec)
    {
        codec = payloadType switch
        {
            0 => AudioCodec.Pcmu,
            8 => AudioCodec.Pcma,
            9 => AudioCodec.G722,
            _ => null,
        };
        return codec is not null;
    }
}
