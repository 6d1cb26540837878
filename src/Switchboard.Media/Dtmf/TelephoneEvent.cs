using System.Buffers.Binary;

namespace Switchboard.Media.Dtmf;

/// <summary>The 4-byte payload of an RFC 4733 telephone-event packet (DTMF digit, end bit, volume, duration).</summary>
public readonly record struct TelephoneEvent(byte Event, bool End, byte Volume, ushort Duration)
{
    /// <summary>Size of the payload.</summary>
    public const int Size = 4;

    /// <summary>Largest volume value (6 bits, in −dBm0).</summary>
    public const byte MaxVolume = 63;

    /// <summary>Largest DTMF event code (RFC 4733 §3.2: 0–9, *, #, A–D).</summary>
    public const byte MaxDtmfEvent = 15;

    /// <summary>Parses the first 4 bytes; false when shorter. The reserved bit is ignored as the RFC requires.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out TelephoneEvent value)
    {
        if (payload.Length < Size)
        {
            value = default;
            return false;
        }

        value = new TelephoneEvent(
            payload[0],
            (payload[1] & 0x80) != 0,
            (byte)(payload[1] & 0x3F),
            BinaryPrimitives.ReadUInt16BigEndian(payload.Slice(2, 2)));
        return true;
    }

    /// <summary>Writes the 4 bytes; false when the destination is too small or the volume does not fit in 6 bits.</summary>
    public bool TryWrite(Span<byte> destination)
    {
        if (destination.Length < Size || Volume > MaxVolume)
        {
            return false;
        }

        destination[0] = Event;
        destination[1] = (byte)((End ? 0x80 : 0) | Volume);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2, 2), Duration);
        return true;
    }

    /// <summary>The DTMF character of an event code (0–9, *, #, A–D), or false for non-DTMF events.</summary>
    public static bool TryGetDigit(byte eventCode, out char digit)
    {
        digit = eventCode switch
        {
            <= 9 => (char)('0' + eventCode),
            10 => '*',
            11 => '#',
            <= MaxDtmfEvent => (char)('A' + eventCode - 12),
            _ => '\0',
        };
        return eventCode <= MaxDtmfEvent;
    }

    /// <summary>The event code of a DTMF character (case-insensitive for A–D), or false for anything else.</summary>
    public static bool TryGetEvent(char digit, out byte eventCode)
    {
        var code = digit switch
        {
            >= '0' and <= '9' => digit - '0',
            '*' => 10,
            '#' => 11,
            >= 'A' and <= 'D' => digit - 'A' + 12,
            >= 'a' and <= 'd' => digit - 'a' + 12,
            _ => -1,
        };
        eventCode = (byte)Math.Max(code, 0);
        return code >= 0;
    }
}
