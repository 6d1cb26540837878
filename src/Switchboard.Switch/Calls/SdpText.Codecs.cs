using System.Globalization;
using System.Net;
using System.Text;
using Switchboard.Media.Codecs;

namespace Switchboard.Switch.Calls;

/// <summary>
/// The codec lines of the switch's own SDP (the m= format list, rtpmap and fmtp, RFC 4566 §6 and RFC 3264) and the
/// choice of codec in a phone's description: G.711, G.722 (static type 9, "G722/8000" although the audio is 16 kHz,
/// RFC 3551 §4.5.2) and Opus ("opus/48000/2", a dynamic type, RFC 7587), with telephone-event at each clock rate.
/// </summary>
internal static partial class SdpText
{
    /// <summary>Formats of one m= line that are looked at; a longer list is no phone's (and the rest is ignored).</summary>
    public const int MaxFormats = 64;

    /// <summary>The telephone-event type the switch offers at 8000 Hz (G.711, G.722).</summary>
    public const int TelephoneEvent8000 = 101;

    /// <summary>The telephone-event type the switch offers at 48000 Hz (Opus, RFC 4733 §2.1: the audio's clock).</summary>
    public const int TelephoneEvent48000 = 100;

    /// <summary>
    /// The codec names of <c>Media:Codecs</c> ("opus", "g722", "pcmu", "pcma"), in order of preference. Refuses an
    /// empty list, an unknown name and a repeated one, naming the entry.
    /// </summary>
    public static IReadOnlyList<AudioCodec> ParseCodecs(IEnumerable<string>? names)
    {
        var codecs = new List<AudioCodec>();
        foreach (var raw in names ?? [])
        {
            foreach (var name in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!AudioCodecs.TryParseName(name, out var codec))
                {
                    throw new ArgumentException($"Media:Codecs: '{name}' is no codec of the media engine (opus, g722, pcmu, pcma)", nameof(names));
                }

                if (codecs.Contains(codec))
                {
                    throw new ArgumentException($"Media:Codecs: '{name}' is listed twice", nameof(names));
                }

                codecs.Add(codec);
            }
        }

        return codecs.Count > 0 ? codecs : AudioCodecs.DefaultOrder;
    }

    /// <summary>
    /// Where a phone wants its audio and in which codec: the connection address (media level before session level),
    /// the audio port, the first format of its first audio m= line that is one of <paramref name="accept"/> (all the
    /// engine's codecs when null), that format's payload type, and the telephone-event type at that codec's clock
    /// (else any telephone-event, else 101 or 100) with the clock its rtpmap names (for the answer only). Null when
    /// the description has no audio stream the engine can take.
    /// </summary>
    public static (IPAddress Address, int Port, AudioCodec Codec, int DtmfPayloadType, int PayloadType, int DtmfClockRate)? AudioOf(byte[] sdp, IReadOnlyList<AudioCodec>? accept)
    {
        accept ??= AudioCodecs.DefaultOrder;
        IPAddress? session = null, media = null;
        int port = -1;
        var formats = new List<int>();
        var maps = new Dictionary<int, (string Encoding, int Rate, int Channels)>();
        bool inAudio = false, seenAudio = false;
        foreach (var l in Lines(sdp))
        {
            if (l.StartsWith("m=", StringComparison.Ordinal))
            {
                if (seenAudio) break; // only the first audio stream
                var f = l[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                inAudio = f.Length >= 4 && f[0] == "audio" && int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out port);
                if (!inAudio)
                {
                    port = -1;
                    continue;
                }

                seenAudio = true;
                foreach (var pt in f.Skip(3).Take(MaxFormats))
                {
                    if (int.TryParse(pt, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 127) formats.Add(p);
                }
            }
            else if (l.StartsWith("c=", StringComparison.Ordinal))
            {
                var f = l[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 3 && IPAddress.TryParse(f[2].Split('/')[0], out var ip))
                {
                    if (inAudio) media = ip;
                    else if (!seenAudio) session ??= ip;
                }
            }
            else if (inAudio && l.StartsWith("a=rtpmap:", StringComparison.Ordinal) && maps.Count < MaxFormats && TryParseRtpMap(l.AsSpan(9), out var pt, out var map))
            {
                maps.TryAdd(pt, map);
            }
        }

        var address = media ?? session;
        if (address is null || port <= 0 || port > 65535) return null;
        foreach (var pt in formats)
        {
            AudioCodec? codec;
            if (maps.TryGetValue(pt, out var map))
            {
                if (!AudioCodecs.TryFromRtpMap(map.Encoding, map.Rate, map.Channels, out codec)) continue;
            }
            else if (!AudioCodecs.TryFromStaticPayloadType(pt, out codec))
            {
                continue;
            }

            if (!accept.Contains(codec.Value)) continue;
            var (dtmf, dtmfClock) = TelephoneEventFor(codec.Value, pt, formats, maps);
            return (address, port, codec.Value, dtmf, pt, dtmfClock);
        }

        return null;
    }

    /// <summary>
    /// The m= line and codec attributes of an offer of the switch's endpoint: <paramref name="codecs"/> in order, then
    /// telephone-event at 8000 Hz (when a codec on that clock is offered) and at 48000 Hz (when Opus is), 20 ms packets.
    /// </summary>
    public static string OfferMediaLines(int port, IReadOnlyList<AudioCodec> codecs)
    {
        var narrowClock = codecs.Any(c => AudioCodecs.ClockRate(c) == 8000);
        var opus = codecs.Contains(AudioCodec.Opus);
        var sb = new StringBuilder(384);
        sb.Append("m=audio ").Append(port.ToString(CultureInfo.InvariantCulture)).Append(" RTP/AVP");
        foreach (var codec in codecs) sb.Append(' ').Append(AudioCodecs.DefaultPayloadType(codec).ToString(CultureInfo.InvariantCulture));
        if (narrowClock) sb.Append(' ').Append(TelephoneEvent8000.ToString(CultureInfo.InvariantCulture));
        if (opus) sb.Append(' ').Append(TelephoneEvent48000.ToString(CultureInfo.InvariantCulture));
        sb.Append("\r\n");
        foreach (var codec in codecs) AppendCodec(sb, codec, AudioCodecs.DefaultPayloadType(codec));
        if (narrowClock) AppendTelephoneEvent(sb, TelephoneEvent8000, 8000);
        if (opus) AppendTelephoneEvent(sb, TelephoneEvent48000, 48000);
        sb.Append("a=ptime:20\r\n");
        return sb.ToString();
    }

    /// <summary>
    /// The m= line and codec attributes of an answer: the one codec chosen, with the payload type the offer gave it,
    /// and the offer's telephone-event type (RFC 3264 §6.1: nothing the offer lacked) at the clock the offer named
    /// for it, the codec's when not given: an answer never re-maps an offered payload type to another clock.
    /// </summary>
    public static string AnswerMediaLines(int port, AudioCodec codec, int payloadType, int? telephoneEvent, int? telephoneEventClockRate = null)
    {
        var sb = new StringBuilder(256);
        var pt = payloadType.ToString(CultureInfo.InvariantCulture);
        sb.Append("m=audio ").Append(port.ToString(CultureInfo.InvariantCulture)).Append(" RTP/AVP ").Append(pt);
        if (telephoneEvent is { } te) sb.Append(' ').Append(te.ToString(CultureInfo.InvariantCulture));
        sb.Append("\r\n");
        AppendCodec(sb, codec, payloadType);
        if (telephoneEvent is { } t) AppendTelephoneEvent(sb, t, telephoneEventClockRate ?? AudioCodecs.ClockRate(codec));
        sb.Append("a=ptime:20\r\n");
        return sb.ToString();
    }

    private static void AppendCodec(StringBuilder sb, AudioCodec codec, int payloadType)
    {
        var pt = payloadType.ToString(CultureInfo.InvariantCulture);
        sb.Append("a=rtpmap:").Append(pt).Append(' ').Append(AudioCodecs.RtpMap(codec)).Append("\r\n");
        if (AudioCodecs.Fmtp(codec) is { } fmtp) sb.Append("a=fmtp:").Append(pt).Append(' ').Append(fmtp).Append("\r\n");
    }

    private static void AppendTelephoneEvent(StringBuilder sb, int payloadType, int rate)
    {
        var pt = payloadType.ToString(CultureInfo.InvariantCulture);
        sb.Append("a=rtpmap:").Append(pt).Append(" telephone-event/").Append(rate.ToString(CultureInfo.InvariantCulture))
            .Append("\r\na=fmtp:").Append(pt).Append(" 0-15\r\n");
    }

    // RFC 4733 §2.1 wants the audio's clock; a phone that maps telephone-event only to another clock (baresip 1.0
    // offers telephone-event/8000 next to Opus) gets its own mapping back, not a re-mapped one. Its events still run on
    // the audio's clock in the engine: baresip counts their durations at 48 kHz whatever its rtpmap says.
    private static (int PayloadType, int ClockRate) TelephoneEventFor(AudioCodec codec, int audioPayloadType, List<int> formats,
        Dictionary<int, (string Encoding, int Rate, int Channels)> maps)
    {
        var clock = AudioCodecs.ClockRate(codec);
        (int, int)? any = null;
        foreach (var pt in formats)
        {
            if (pt == audioPayloadType || !maps.TryGetValue(pt, out var map) || !map.Encoding.Equals("telephone-event", StringComparison.OrdinalIgnoreCase)) continue;
            if (map.Rate == clock) return (pt, clock);
            any ??= (pt, map.Rate);
        }

        if (any is { } other) return other;
        var fallback = clock == 8000 ? TelephoneEvent8000 : TelephoneEvent48000;
        return (fallback == audioPayloadType ? (fallback == TelephoneEvent8000 ? TelephoneEvent48000 : TelephoneEvent8000) : fallback, clock);
    }

    /// <summary>"96 opus/48000/2" → 96, ("opus", 48000, 2); the channel count defaults to 1 (RFC 4566 §6).</summary>
    private static bool TryParseRtpMap(ReadOnlySpan<char> value, out int payloadType, out (string Encoding, int Rate, int Channels) map)
    {
        map = default;
        payloadType = -1;
        var space = value.IndexOf(' ');
        if (space <= 0 || !int.TryParse(value[..space], NumberStyles.None, CultureInfo.InvariantCulture, out payloadType) || payloadType > 127) return false;
        var rest = value[(space + 1)..].Trim();
        var slash = rest.IndexOf('/');
        if (slash <= 0) return false;
        var encoding = rest[..slash];
        rest = rest[(slash + 1)..];
        var channels = 1;
        slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            if (!int.TryParse(rest[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out channels) || channels is < 1 or > 8) return false;
            rest = rest[..slash];
        }

        if (!int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var rate) || rate is < 1000 or > 192000) return false;
        map = (encoding.ToString(), rate, channels);
        return true;
    }
}
