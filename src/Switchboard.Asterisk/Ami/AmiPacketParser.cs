using System.Buffers;
using System.Text;

namespace Switchboard.Asterisk.Ami;

/// <summary>Size limits for incoming AMI data, so a broken or hostile peer cannot make the client buffer without bound.</summary>
public sealed class AmiLimits
{
    /// <summary>Longest line in bytes, without CRLF.</summary>
    public int MaxLineBytes { get; set; } = 8 * 1024;

    /// <summary>Most header lines in one packet (a Command response has one per output line).</summary>
    public int MaxHeaders { get; set; } = 2_000;

    /// <summary>Largest packet in bytes.</summary>
    public int MaxPacketBytes { get; set; } = 1024 * 1024;

    /// <summary>Most items collected for one event-list answer; later items are dropped (and logged).</summary>
    public int MaxListItems { get; set; } = 50_000;
}

/// <summary>The peer broke the AMI framing or a limit; the connection cannot be trusted any more and is closed.</summary>
public sealed class AmiProtocolException(string message) : Exception(message);

/// <summary>Parses AMI lines and packets from bytes (CRLF lines, <c>Name: value</c> headers, an empty line ends a packet).</summary>
public static class AmiPacketParser
{
    /// <summary>Reads one line (the banner); false when the line is not complete yet.</summary>
    public static bool TryReadLine(ref ReadOnlySequence<byte> buffer, int maxLineBytes, out string line)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> raw, (byte)'\n'))
        {
            if (buffer.Length > maxLineBytes + 1) throw new AmiProtocolException($"line longer than {maxLineBytes} bytes");
            line = "";
            return false;
        }
        if (raw.Length > maxLineBytes + 1) throw new AmiProtocolException($"line longer than {maxLineBytes} bytes");
        line = Decode(TrimCr(raw));
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>
    /// Reads one packet; false when it is not complete yet (nothing is consumed then). Empty lines between packets are
    /// skipped. Throws <see cref="AmiProtocolException"/> when a limit is broken.
    /// </summary>
    public static bool TryReadPacket(ref ReadOnlySequence<byte> buffer, AmiLimits limits, out AmiPacket? packet)
    {
        var reader = new SequenceReader<byte>(buffer);
        var headers = new List<KeyValuePair<string, string>>();
        long packetStart = -1;
        packet = null;
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> raw, (byte)'\n'))
            {
                if (reader.Remaining > limits.MaxLineBytes + 1) throw new AmiProtocolException($"line longer than {limits.MaxLineBytes} bytes");
                if (packetStart >= 0 && buffer.Length - packetStart > limits.MaxPacketBytes)
                    throw new AmiProtocolException($"packet larger than {limits.MaxPacketBytes} bytes");
                return false;
            }
            if (raw.Length > limits.MaxLineBytes + 1) throw new AmiProtocolException($"line longer than {limits.MaxLineBytes} bytes");
            var line = TrimCr(raw);
            if (line.Length == 0)
            {
                if (headers.Count == 0) continue;
                packet = new AmiPacket(headers);
                buffer = buffer.Slice(reader.Position);
                return true;
            }
            if (packetStart < 0) packetStart = reader.Consumed - raw.Length - 1;
            if (reader.Consumed - packetStart > limits.MaxPacketBytes) throw new AmiProtocolException($"packet larger than {limits.MaxPacketBytes} bytes");
            if (headers.Count >= limits.MaxHeaders) throw new AmiProtocolException($"packet has more than {limits.MaxHeaders} header lines");
            headers.Add(ParseHeader(Decode(line)));
        }
    }

    private static KeyValuePair<string, string> ParseHeader(string line)
    {
        int colon = line.IndexOf(':');
        // Old Asterisk versions sent bare command-output lines; keep them as Output rather than fail.
        if (colon <= 0) return new("Output", line);
        var value = colon + 1 < line.Length && line[colon + 1] == ' ' ? line[(colon + 2)..] : line[(colon + 1)..];
        return new(line[..colon].Trim(), value);
    }

    private static ReadOnlySequence<byte> TrimCr(ReadOnlySequence<byte> raw)
    {
        if (raw.Length > 0)
        {
            var last = raw.Slice(raw.Length - 1);
            if (last.FirstSpan[0] == (byte)'\r') return raw.Slice(0, raw.Length - 1);
        }
        return raw;
    }

    private static string Decode(ReadOnlySequence<byte> bytes) =>
        bytes.IsSingleSegment ? Encoding.UTF8.GetString(bytes.FirstSpan) : Encoding.UTF8.GetString(bytes.ToArray());
}
