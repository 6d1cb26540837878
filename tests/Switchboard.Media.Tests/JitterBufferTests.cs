using Switchboard.Media.Jitter;

namespace Switchboard.Media.Tests;

public class JitterBufferTests
{
    private const uint Ssrc = 0x1234;

    private static short[] Frame(int marker)
    {
        var frame = new short[JitterBuffer.FrameSamples];
        frame.AsSpan().Fill((short)marker);
        return frame;
    }

    /// <summary>Reads one tick: the frame's marker value, or null for a gap.</summary>
    private static int? Read(JitterBuffer buffer)
    {
        var frame = new short[JitterBuffer.FrameSamples];
        if (!buffer.TryRead(frame))
        {
            return null;
        }

        Assert.All(frame, s => Assert.Equal(frame[0], s));
        return frame[0];
    }

    [Fact]
    public void Nothing_plays_before_the_first_packet_or_during_the_playout_delay()
    {
        var buffer = new JitterBuffer(playoutDelayFrames: 2);
        Assert.Null(Read(buffer));
        Assert.Equal(JitterPutResult.Restarted, buffer.Put(10, Ssrc, Frame(10)));
        Assert.Null(Read(buffer));
        Assert.Null(Read(buffer));
        Assert.Equal(10, Read(buffer));
        Assert.Equal(0, buffer.Lost);
        Assert.Equal(0, buffer.Restarts);
    }

    [Fact]
    public void Zero_delay_plays_at_the_next_tick()
    {
        var buffer = new JitterBuffer(playoutDelayFrames: 0);
        buffer.Put(1, Ssrc, Frame(1));
        Assert.Equal(1, Read(buffer));
    }

    [Fact]
    public void Reordered_packets_play_in_sequence_order()
    {
        var buffer = new JitterBuffer(2);
        buffer.Put(10, Ssrc, Frame(10));
        Assert.Equal(JitterPutResult.Accepted, buffer.Put(12, Ssrc, Frame(12)));
        Assert.Equal(JitterPutResult.Accepted, buffer.Put(11, Ssrc, Frame(11)));
        Assert.Null(Read(buffer));
        Assert.Null(Read(buffer));
        Assert.Equal(10, Read(buffer));
        Assert.Equal(11, Read(buffer));
        Assert.Equal(12, Read(buffer));
        Assert.Equal(0, buffer.Late);
        Assert.Equal(0, buffer.Lost);
    }

    [Fact]
    public void A_packet_overtaken_before_playout_starts_still_plays_first()
    {
        var buffer = new JitterBuffer(2);
        buffer.Put(21, Ssrc, Frame(21));
        Assert.Equal(JitterPutResult.Accepted, buffer.Put(20, Ssrc, Frame(20)));
        Read(buffer);
        Read(buffer);
        Assert.Equal(20, Read(buffer));
        Assert.Equal(21, Read(buffer));
    }

    [Fact]
    public void Duplicates_are_dropped_and_counted()
    {
        var buffer = new JitterBuffer(2);
        buffer.Put(5, Ssrc, Frame(5));
        Assert.Equal(JitterPutResult.Duplicate, buffer.Put(5, Ssrc, Frame(99)));
        buffer.Put(6, Ssrc, Frame(6));
        Assert.Equal(JitterPutResult.Duplicate, buffer.Put(6, Ssrc, Frame(99)));
        Read(buffer);
        Read(buffer);
        Assert.Equal(5, Read(buffer));
        Assert.Equal(6, Read(buffer));
        Assert.Equal(2, buffer.Duplicates);
        Assert.Equal(4, buffer.Received);
    }

    [Fact]
    public void Late_packets_are_dropped_and_the_gap_counts_as_lost()
    {
        var buffer = new JitterBuffer(1);
        buffer.Put(0, Ssrc, Frame(0));
        buffer.Put(2, Ssrc, Frame(2));
        Assert.Null(Read(buffer));
        Assert.Equal(0, Read(buffer));
        Assert.Null(Read(buffer)); // frame 1 is due but missing while frame 2 is here: silence
        Assert.Equal(JitterPutResult.Late, buffer.Put(1, Ssrc, Frame(1)));
        Assert.Equal(2, Read(buffer));
        Assert.Equal(1, buffer.Late);
        Assert.Equal(1, buffer.Lost);
        Assert.Equal(JitterPutResult.Late, buffer.Put(0, Ssrc, Frame(0)));
        Assert.Equal(2, buffer.Late);
    }

    [Fact]
    public void A_sender_that_stalls_is_heard_again_at_its_next_packet_not_after_the_pause_timeout()
    {
        // What a loaded sender (or a short network stall) looks like: three ticks without a packet, then the stream goes on
        // at its own pace with the next numbers. Moving the playout point on through the stall would make every later
        // packet late, and the phone silent until the stream counted as paused (half a second).
        var buffer = new JitterBuffer(1);
        buffer.Put(0, Ssrc, Frame(0));
        Assert.Null(Read(buffer));
        Assert.Equal(0, Read(buffer));
        Assert.Null(Read(buffer));
        Assert.Null(Read(buffer));
        Assert.Null(Read(buffer));
        for (var sequence = 1; sequence <= 10; sequence++)
        {
            Assert.Equal(JitterPutResult.Accepted, buffer.Put((ushort)sequence, Ssrc, Frame(sequence)));
            Assert.Equal(sequence, Read(buffer));
        }

        Assert.Equal(0, buffer.Late);
        Assert.Equal(0, buffer.Lost);
        Assert.Equal(0, buffer.Restarts);
    }

    [Fact]
    public void Lost_packets_leave_gaps_and_are_counted_once_later_frames_arrive()
    {
        var buffer = new JitterBuffer(2);
        foreach (var sequence in new ushort[] { 0, 1, 3, 6 })
        {
            buffer.Put(sequence, Ssrc, Frame(sequence));
        }

        int?[] expected = [null, null, 0, 1, null, 3, null, null, 6];
        foreach (var value in expected)
        {
            Assert.Equal(value, Read(buffer));
        }

        Assert.Equal(3, buffer.Lost);
        Assert.Equal(0, buffer.Late);
    }

    [Fact]
    public void Sequence_numbers_wrap_from_65535_to_0()
    {
        var buffer = new JitterBuffer(2);
        buffer.Put(65534, Ssrc, Frame(1));
        buffer.Put(0, Ssrc, Frame(3));
        buffer.Put(65535, Ssrc, Frame(2));
        buffer.Put(1, Ssrc, Frame(4));
        Read(buffer);
        Read(buffer);
        Assert.Equal(1, Read(buffer));
        Assert.Equal(2, Read(buffer));
        Assert.Equal(3, Read(buffer));
        buffer.Put(2, Ssrc, Frame(5));
        Assert.Equal(4, Read(buffer));
        Assert.Equal(5, Read(buffer));
        Assert.Equal(JitterPutResult.Late, buffer.Put(65535, Ssrc, Frame(2)));
        Assert.Equal(0, buffer.Lost);
        Assert.Equal(1, buffer.Late);
        Assert.Equal(0, buffer.Restarts);
    }

    [Fact]
    public void A_long_stream_crosses_the_wrap_many_times_without_loss()
    {
        var buffer = new JitterBuffer(2);
        ushort sequence = 60000;
        var played = 0;
        for (var tick = 0; tick < 135_000; tick++)
        {
            buffer.Put(sequence, Ssrc, Frame(sequence & 0x7FFF));
            var value = Read(buffer);
            if (value is not null)
            {
                Assert.Equal((ushort)(sequence - 2) & 0x7FFF, value);
                played++;
            }

            sequence++;
        }

        Assert.Equal(135_000 - 2, played);
        Assert.Equal(0, buffer.Lost + buffer.Late + buffer.Duplicates + buffer.Dropped + buffer.Restarts);
    }

    [Fact]
    public void A_new_ssrc_restarts_the_stream()
    {
        var buffer = new JitterBuffer(1);
        buffer.Put(100, Ssrc, Frame(100));
        Read(buffer);
        Assert.Equal(100, Read(buffer));
        Assert.Equal(JitterPutResult.Restarted, buffer.Put(7, 0x9999, Frame(7)));
        Assert.Null(Read(buffer));
        Assert.Equal(7, Read(buffer));
        Assert.Equal(1, buffer.Restarts);
        Assert.Equal(0, buffer.Late);
    }

    [Fact]
    public void A_jump_far_ahead_or_far_back_restarts_instead_of_waiting_or_counting_late()
    {
        var buffer = new JitterBuffer(1);
        buffer.Put(1000, Ssrc, Frame(1));
        Read(buffer);
        Assert.Equal(1, Read(buffer));
        Assert.Equal(JitterPutResult.Restarted, buffer.Put(5000, Ssrc, Frame(2)));
        Read(buffer);
        Assert.Equal(2, Read(buffer));
        Assert.Equal(JitterPutResult.Restarted, buffer.Put(10, Ssrc, Frame(3)));
        Read(buffer);
        Assert.Equal(3, Read(buffer));
        Assert.Equal(2, buffer.Restarts);
    }

    [Fact]
    public void A_sender_running_ahead_is_trimmed_to_the_playout_delay()
    {
        var buffer = new JitterBuffer(2);
        for (ushort s = 0; s < 20; s++)
        {
            buffer.Put(s, Ssrc, Frame(s));
        }

        Read(buffer);
        Read(buffer);
        Assert.Equal(17, Read(buffer));
        Assert.Equal(17, buffer.Dropped);
    }

    [Fact]
    public void Short_frames_are_padded_and_invalid_ones_refused()
    {
        var buffer = new JitterBuffer(0);
        Assert.Equal(JitterPutResult.Invalid, buffer.Put(1, Ssrc, []));
        Assert.Equal(JitterPutResult.Invalid, buffer.Put(1, Ssrc, new short[161]));
        buffer.Put(1, Ssrc, new short[] { 5, 5 });
        var frame = new short[JitterBuffer.FrameSamples];
        frame.AsSpan().Fill(-1);
        Assert.True(buffer.TryRead(frame));
        Assert.Equal(5, frame[1]);
        Assert.All(frame[2..], s => Assert.Equal(0, s));
    }

    [Fact]
    public void A_pause_ends_the_stream_without_counting_the_silence_as_loss()
    {
        var buffer = new JitterBuffer(1);
        buffer.Put(1, Ssrc, Frame(1));
        Read(buffer);
        Assert.Equal(1, Read(buffer));
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(Read(buffer));
        }

        Assert.Equal(0, buffer.Lost);
        Assert.Equal(JitterPutResult.Restarted, buffer.Put(2, Ssrc, Frame(2)));
        Read(buffer);
        Assert.Equal(2, Read(buffer));
    }
}
