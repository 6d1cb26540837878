namespace Switchboard.Media.Rtp;

/// <summary>
/// Reception statistics of one incoming RTP stream, as RFC 3550 computes them for receiver reports: packets lost
/// from the extended highest sequence number against the packets received (§6.4.1, Appendix A.3), and the
/// interarrival jitter J += (|D| − J) / 16 (§6.4.1, Appendix A.8). Thread-safe: fed by a receive thread, read by a
/// metrics scrape.
/// </summary>
public sealed class RtpReceptionStats
{
    // A forward jump this large is a restarted sender, not 3000 lost packets (RFC 3550 A.1's MAX_DROPOUT).
    private const int MaxDropout = 3000;

    private readonly Lock _gate = new();
    private bool _started;
    private uint _ssrc;
    private ushort _maxSequence;
    private long _cycles;
    private long _baseSequence;
    private long _received;

    // Losses of earlier SSRCs or of a stream before a restart: they stay counted.
    private long _lostBefore;

    // The highest loss reported so far: a reordered packet arriving late lowers expected − received, but a counter
    // exported as a Prometheus counter must never go down (a drop reads as a reset), so the total holds its peak.
    private long _lostReported;

    private bool _haveTransit;
    private long _lastArrival;
    private uint _lastTimestamp;
    private double _jitter;
    private int _jitterClockRate;

    /// <summary>Packets lost so far (never decreasing).</summary>
    public long Lost
    {
        get
        {
            lock (_gate) return _lostReported;
        }
    }

    /// <summary>The interarrival jitter estimate in RTP timestamp units (0 before two audio packets arrived).</summary>
    public double Jitter
    {
        get
        {
            lock (_gate) return _jitter;
        }
    }

    /// <summary>The jitter estimate in milliseconds, converted with the stream's RTP clock rate.</summary>
    public double JitterMilliseconds
    {
        get
        {
            lock (_gate) return _jitterClockRate > 0 ? _jitter * 1000.0 / _jitterClockRate : 0;
        }
    }

    /// <summary>Whether a packet has been counted.</summary>
    public bool HasData
    {
        get
        {
            lock (_gate) return _started;
        }
    }

    /// <summary>
    /// Counts one received packet. <paramref name="arrival"/> is the receive time in <paramref name="frequency"/>
    /// units per second; <paramref name="clockRate"/> the RTP clock of the stream. Only media packets should pass
    /// <paramref name="timed"/>: a telephone event's timestamp is its start, repeated, which is no sampling instant.
    /// </summary>
    public void Add(ushort sequence, uint timestamp, uint ssrc, long arrival, long frequency, int clockRate, bool timed = true)
    {
        lock (_gate)
        {
            if (!_started || ssrc != _ssrc)
            {
                Restart(sequence, ssrc);
            }
            else
            {
                var delta = RtpSequence.Distance(_maxSequence, sequence);
                if (delta > MaxDropout)
                {
                    Restart(sequence, ssrc);
                }
                else if (delta > 0)
                {
                    if (sequence < _maxSequence)
                    {
                        _cycles += 65536;
                    }

                    _maxSequence = sequence;
                }
            }

            _received++;
            var lost = _lostBefore + (_cycles + _maxSequence - _baseSequence + 1) - _received;
            if (lost > _lostReported)
            {
                _lostReported = lost;
            }

            if (timed && clockRate > 0 && frequency > 0)
            {
                AddTransit(timestamp, arrival, frequency, clockRate);
            }
        }
    }

    private void AddTransit(uint timestamp, long arrival, long frequency, int clockRate)
    {
        if (_haveTransit && clockRate == _jitterClockRate)
        {
            // D(i−1, i) = (Rj − Ri) − (Sj − Si), both in RTP timestamp units; the timestamp difference is taken as a
            // signed 32-bit value so a wrap of the 32-bit timestamp is no jump.
            var arrivalUnits = (arrival - _lastArrival) * (double)clockRate / frequency;
            var d = arrivalUnits - unchecked((int)(timestamp - _lastTimestamp));
            _jitter += (Math.Abs(d) - _jitter) / 16.0;
        }
        else if (clockRate != _jitterClockRate)
        {
            // Another codec's clock: the old estimate is in other units.
            _jitter = 0;
        }

        _jitterClockRate = clockRate;
        _haveTransit = true;
        _lastArrival = arrival;
        _lastTimestamp = timestamp;
    }

    private void Restart(ushort sequence, uint ssrc)
    {
        if (_started)
        {
            _lostBefore = _lostReported;
        }

        _started = true;
        _ssrc = ssrc;
        _baseSequence = sequence;
        _maxSequence = sequence;
        _cycles = 0;
        _received = 0;
        _haveTransit = false;
    }
}
