using Switchboard.Media.Rtp;

namespace Switchboard.Media.Tests;

/// <summary>Loss and interarrival jitter (RFC 3550 §6.4.1, A.3, A.8) from known sequences and arrival times.</summary>
public class RtpReceptionStatsTests
{
    // Arrival times in milliseconds (frequency 1000), an 8 kHz RTP clock: 20 ms = 160 timestamp units.
    private const long Ms = 1000;
    private const int Clock = 8000;

    [Fact]
    public void A_gap_across_the_sequence_wrap_counts_as_lost_and_a_late_packet_does_not_lower_the_count()
    {
        var stats = new RtpReceptionStats();
        foreach (var seq in new ushort[] { 65533, 65534, 65535, 0, 2, 3 })
            stats.Add(seq, 0, ssrc: 7, arrival: 0, Ms, Clock, timed: false);
        Assert.Equal(1, stats.Lost);

        stats.Add(1, 0, 7, 0, Ms, Clock, timed: false); // the missing one, reordered: RFC 3550 now says 0 lost
        Assert.Equal(1, stats.Lost);                   // but an exported counter never goes down
        stats.Add(10, 0, 7, 0, Ms, Clock, timed: false); // 4..9 missing
        Assert.Equal(6, stats.Lost);
    }

    [Fact]
    public void A_new_ssrc_or_a_restarted_sender_keeps_what_was_lost_and_is_no_loss_itself()
    {
        var stats = new RtpReceptionStats();
        stats.Add(100, 0, 1, 0, Ms, Clock);
        stats.Add(103, 0, 1, 0, Ms, Clock);
        Assert.Equal(2, stats.Lost);
        stats.Add(40000, 0, 2, 0, Ms, Clock);   // another source's random first number
        stats.Add(40001, 0, 2, 0, Ms, Clock);
        Assert.Equal(2, stats.Lost);
        stats.Add(50000, 0, 2, 0, Ms, Clock);   // a jump past the dropout limit: a restart, not 9998 lost
        Assert.Equal(2, stats.Lost);
    }

    [Fact]
    public void Jitter_is_zero_for_even_arrivals_and_follows_the_rfc_3550_estimator_for_a_late_one()
    {
        var stats = new RtpReceptionStats();
        uint ts = 4294967000; // the 32-bit timestamp wraps during the stream
        for (int i = 0; i < 4; i++)
            stats.Add((ushort)i, unchecked(ts + (uint)(i * 160)), 9, arrival: i * 20, Ms, Clock);
        Assert.Equal(0, stats.Jitter);

        // Packet 4 (due at 80 ms) arrives at 90: D = (90 − 60)·8 − 160 = 80, J = 80/16 = 5.
        stats.Add(4, unchecked(ts + 640), 9, 90, Ms, Clock);
        Assert.Equal(5, stats.Jitter, 9);
        // Packet 5 on time at 100: D = (100 − 90)·8 − 160 = −80, J = 5 + (80 − 5)/16 = 9.6875.
        stats.Add(5, unchecked(ts + 800), 9, 100, Ms, Clock);
        Assert.Equal(9.6875, stats.Jitter, 9);
        Assert.Equal(9.6875 / 8, stats.JitterMilliseconds, 9);
        Assert.Equal(0, stats.Lost);
    }

    [Fact]
    public void Telephone_events_count_for_loss_but_not_for_jitter()
    {
        var stats = new RtpReceptionStats();
        stats.Add(1, 160, 3, 0, Ms, Clock);
        stats.Add(2, 160, 3, 500, Ms, Clock, timed: false); // an event repeating its start timestamp half a second on
        stats.Add(4, 320, 3, 520, Ms, Clock);
        Assert.Equal(1, stats.Lost);
        // Only the two audio packets were compared: D = 520·8 − 160 = 4000, J = 250.
        Assert.Equal(250, stats.Jitter, 9);
    }
}
