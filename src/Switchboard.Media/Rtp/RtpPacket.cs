using System.Buffers.Binary;

namespace Switchboard.Media.Rtp;

/// <summary>An RTP packet (RFC 3550) as a view over a buffer: header fields and the payload slice.</summary>
public readonly ref struct RtpPacket
{
    /// <summary>Size of the fixed header without CSRCs or extension.</summary>
    public const int FixedHeaderSize = 12;

    /// <summary>Largest payload type number (7 bits).</summary>
    public const int MaxPayloadType = 127;

    /// <summary>Creates a packet to be written with <see cref="TryWrite"/>.</summary>
    public RtpPacket(byte payloadType, ushort sequenceNumber, uint timestamp, uint ssrc, ReadOnlySpan<byte> payload, bool marker = false)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadType, (byte)MaxPayloadType);
        PayloadType = payloadType;
        SequenceNumber = sequenceNumber;
        Timestamp = timestamp;
        Ssrc = ssrc;
        Payload = payload;
        Marker = marker;
    }

    /// <summary>The marker bit (first packet of a talk spurt or of a DTMF event).</summary>
    public bool Marker { get; init; }

    /// <summary>The 7-bit payload type.</summary>
    public byte PayloadType { get; init; }

    /// <summary>The 16-bit sequence number.</summary>
    public ushort SequenceNumber { get; init; }

    /// <summary>The media timestamp (8 kHz units for G.711).</summary>
    public uint Timestamp { get; init; }

    /// <summary>The synchronisation source identifier.</summary>
    public uint Ssrc { get; init; }

    /// <summary>Number of contributing sources in the parsed header (they are skipped, not kept).</summary>
    public int CsrcCount { get; init; }

    /// <summary>Whether the parsed header carried an extension (skipped).</summary>
    public bool HasExtension { get; init; }

    /// <summary>The payload, without header, CSRCs, extension or padding.</summary>
    public ReadOnlySpan<byte> Payload { get; init; }

    /// <summary>Bytes <see cref="TryWrite"/> needs: fixed header plus payload (CSRCs and extensions are never written).</summary>
    public int WrittenLength => FixedHeaderSize + Payload.Length;

    /// <summary>Parses a datagram; false for anything that is not a well-formed RTP version 2 packet.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out RtpPacket packet)
    {
        packet = default;
        if (data.Length < FixedHeaderSize)
        {
            return false;
        }

        var b0 = data[0];
        if (b0 >> 6 != 2)
        {
            return false;
        }

        var padding = (b0 & 0x20) != 0;
        var extension = (b0 & 0x10) != 0;
        var csrcCount = b0 & 0x0F;
        var b1 = data[1];
        var payloadType = (byte)(b1 & 0x7F);

        // PT 72-76 with the marker bit is how RTCP SR/RR/SDES/BYE/APP look when multiplexed on the RTP port (RFC 5761).
        if (payloadType is >= 72 and <= 76)
        {
            return false;
        }

        var offset = FixedHeaderSize + (csrcCount * 4);
        if (offset > data.Length)
        {
            return false;
        }

        if (extension)
        {
            if (offset + 4 > data.Length)
            {
                return false;
            }

            var words = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(offset + 2, 2));
            offset += 4 + (words * 4);
            if (offset > data.Length)
            {
                return false;
            }
        }

        var end = data.Length;
        if (padding)
        {
            // The last byte counts itself, so 0 is malformed; padding may not eat into the header.
            int padLength = data[^1];
            if (padLength == 0 || end - padLength < offset)
            {
                return false;
            }

            end -= padLength;
        }

        packet = new RtpPacket
        {
            Marker = (b1 & 0x80) != 0,
            PayloadType = payloadType,
            SequenceNumber = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2, 2)),
            Timestamp = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(4, 4)),
            Ssrc = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(8, 4)),
            CsrcCount = csrcCount,
            HasExtension = extension,
            Payload = data[offset..end],
        };
        return true;
    }

    /// <summary>Writes the fixed header and payload; false (nothing written) when the destination is too small.</summary>
    public bool TryWrite(Span<byte> destination, out int written)
    {
        written = 0;
        if (PayloadType > MaxPayloadType || destination.Length < WrittenLength)
        {
            return false;
        }

        destination[0] = 0x80;
        destination[1] = (byte)((Marker ? 0x80 : 0) | PayloadType);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2, 2), SequenceNumber);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4, 4), Timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(8, 4), Ssrc);
        Payload.CopyTo(destination[FixedHeaderSize..]);
        written = WrittenLength;
        return true;
    }
}
