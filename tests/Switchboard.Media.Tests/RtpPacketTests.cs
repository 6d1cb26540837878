using Switchboard.Media.Rtp;

namespace Switchboard.Media.Tests;

public class RtpPacketTests
{
    [Fact]
    public void Write_then_parse_round_trips_every_field()
    {
        var payload = new byte[160];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(i * 7);
        }

        var buffer = new byte[200];
        var packet = new RtpPacket(8, 65535, 0xDEADBEEF, 0x01020304, payload, marker: true);
        Assert.True(packet.TryWrite(buffer, out var written));
        Assert.Equal(172, written);
        Assert.Equal(0x80, buffer[0]);
        Assert.Equal(0x88, buffer[1]);

        Assert.True(RtpPacket.TryParse(buffer.AsSpan(0, written), out var parsed));
        Assert.True(parsed.Marker);
        Assert.Equal(8, parsed.PayloadType);
        Assert.Equal(65535, parsed.SequenceNumber);
        Assert.Equal(0xDEADBEEF, parsed.Timestamp);
        Assert.Equal(0x01020304u, parsed.Ssrc);
        Assert.True(parsed.Payload.SequenceEqual(payload));
    }

    [Fact]
    public void Write_refuses_a_destination_that_is_too_small()
    {
        var packet = new RtpPacket(0, 1, 2, 3, new byte[160]);
        Assert.False(packet.TryWrite(new byte[171], out var written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Parse_skips_csrcs_extension_and_padding()
    {
        byte[] data =
        [
            0xB2, 0x00, 0x00, 0x05, 0, 0, 0, 160, 0, 0, 0, 9, // V=2 P=1 X=1 CC=2, PT 0, seq 5, ts 160, ssrc 9
            1, 1, 1, 1, 2, 2, 2, 2, // two CSRCs
            0xBE, 0xDE, 0x00, 0x01, 0xAA, 0xBB, 0xCC, 0xDD, // extension of one word
            0x11, 0x22, 0x33, // payload
            0, 0, 3, // padding of three bytes
        ];
        Assert.True(RtpPacket.TryParse(data, out var packet));
        Assert.Equal(2, packet.CsrcCount);
        Assert.True(packet.HasExtension);
        Assert.Equal(5, packet.SequenceNumber);
        Assert.Equal(160u, packet.Timestamp);
        Assert.Equal(9u, packet.Ssrc);
        Assert.Equal(new byte[] { 0x11, 0x22, 0x33 }, packet.Payload.ToArray());
    }

    [Fact]
    public void Empty_payload_is_valid()
    {
        byte[] data = [0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        Assert.True(RtpPacket.TryParse(data, out var packet));
        Assert.Equal(0, packet.Payload.Length);
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "empty", [] },
        { "one byte", [0x80] },
        { "11 bytes", [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0] },
        { "version 0", [0x00, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF] },
        { "version 1", [0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF] },
        { "version 3", [0xC0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF] },
        { "CSRC count past the end", [0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3] },
        { "15 CSRCs in a short packet", [0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] },
        { "extension header cut off", [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE] },
        { "extension length past the end", [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 2, 1, 2, 3, 4] },
        { "extension length 0xFFFF", [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF, 1, 2, 3, 4] },
        { "CSRC then extension cut off", [0x91, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0xBE] },
        { "padding count zero", [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x11, 0x00] },
        { "padding larger than payload", [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x11, 0x03] },
        { "padding eats the header", [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 200] },
        { "padding 255 in a short packet", [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF] },
        { "padding into extension", [0xB0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 1, 2, 3, 4, 0, 6] },
        { "RTCP sender report (PT 200)", [0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "RTCP receiver report (PT 201)", [0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "RTCP BYE (PT 203)", [0x81, 203, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0] },
        { "ASCII text", "hello, world, not RTP"u8.ToArray() },
        { "STUN binding request", [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_packets_are_rejected(string name, byte[] data)
    {
        Assert.False(RtpPacket.TryParse(data, out _), name);
    }

    [Fact]
    public void Random_garbage_never_throws_and_accepted_packets_stay_inside_the_buffer()
    {
        var random = new Random(4711);
        var buffer = new byte[64];
        var accepted = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var length = random.Next(buffer.Length + 1);
            random.NextBytes(buffer);
            var data = buffer.AsSpan(0, length);
            if (RtpPacket.TryParse(data, out var packet))
            {
                accepted++;
                Assert.InRange(packet.Payload.Length, 0, length - RtpPacket.FixedHeaderSize);
            }
        }

        Assert.InRange(accepted, 1, 100_000 / 2);
    }

    [Theory]
    [InlineData(1, 2, 1)]
    [InlineData(2, 1, -1)]
    [InlineData(65535, 0, 1)]
    [InlineData(0, 65535, -1)]
    [InlineData(65530, 4, 10)]
    [InlineData(4, 65530, -10)]
    [InlineData(100, 100, 0)]
    [InlineData(0, 32767, 32767)]
    [InlineData(0, 32768, -32768)]
    public void Sequence_distance_wraps(int from, int to, int distance)
    {
        Assert.Equal(distance, RtpSequence.Distance((ushort)from, (ushort)to));
        Assert.Equal(distance > 0, RtpSequence.IsNewer((ushort)to, (ushort)from));
    }
}
