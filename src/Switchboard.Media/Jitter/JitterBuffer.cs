using Switchboard.Media.Rtp;

namespace Switchboard.Media.Jitter;

/// <summary>What <see cref="JitterBuffer.Put"/> did with a frame.</summary>
public enum JitterPutResult
{
    /// <summary>Stored for playout.</summary>
    Accepted,

    /// <summary>Started a new stream (first packet, SSRC change or a sequence jump); stored for playout.</summary>
    Restarted,

    /// <summary>The same sequence number is already waiting; dropped.</summary>
    Duplicate,

    /// <summary>Its playout time has passed; dropped.</summary>
    Late,

    /// <summary>Empty or longer than one frame; dropped.</summary>
    Invalid,
}

/// <summary>
/// Fixed-delay jitter buffer for one incoming stream of 20 ms frames (160 samples at 8 kHz, 320 at 16 kHz): orders by RTP sequence
/// number across the wrap, drops duplicates and late frames, and yields one frame or a gap per 20 ms tick.
/// </summary>
/// <remarks>Not thread-safe: the owner serialises <see cref="Put"/> (receive loop) and <see cref="TryRead"/> (clock).</remarks>
public sealed class JitterBuffer
{
    /// <summary>Samples per frame: 20 ms at 8 kHz.</summary>
    public const int FrameSamples = 160;

    /// <summary>Samples per frame of a wideband stream: 20 ms at 16 kHz.</summary>
    public const int MaxFrameSamples = 320;

    /// <summary>Frames the buffer can hold ahead of the playout point (640 ms, 10 KiB); a jump further ahead restarts the stream.</summary>
    public const int Capacity = 32;

    /// <summary>Largest configurable playout delay.</summary>
    public const int MaxPlayoutDelayFrames = 16;

    // A packet this far behind the playout point is no late straggler but a sender that restarted its numbering.
    private const int MaxMisorder = 100;

    // After this many ticks without anything buffered the stream counts as paused (silence suppression, hold):
    // the next packet starts afresh instead of being measured against the old timeline.
    private const int PauseAfterEmptyTicks = 25;

    // A sender whose clock runs fast fills the buffer; beyond this many frames above the delay, playout skips ahead.
    private const int MaxExtraFrames = 6;

    private const int Mask = Capacity - 1;

    // 20 KiB, taken on the first frame: an endpoint whose packets are only relayed (a two-party call through the switch)
    // never decodes, and so never needs it.
    private short[]? _samples;
    private readonly ushort[] _slotSequence = new ushort[Capacity];
    private readonly bool[] _slotFull = new bool[Capacity];
    private readonly int _delay;
    private int _frame = FrameSamples;

    private bool _active;
    private uint _ssrc;
    private ushort _next;
    private ushort _highest;
    private int _prebufferTicks;
    private int _emptyTicks;
    private long _pendingMissing;

    /// <summary>Creates a buffer that plays a stream's first frame <paramref name="playoutDelayFrames"/> ticks after it arrives.</summary>
    public JitterBuffer(int playoutDelayFrames = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(playoutDelayFrames);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(playoutDelayFrames, MaxPlayoutDelayFrames);
        _delay = playoutDelayFrames;
    }

    /// <summary>Samples per frame of the current stream: 160 (8 kHz) or 320 (16 kHz).</summary>
    public int FrameLength => _frame;

    /// <summary>The playout delay in frames.</summary>
    public int PlayoutDelayFrames => _delay;

    /// <summary>Frames handed to <see cref="Put"/> (including the dropped ones).</summary>
    public long Received { get; private set; }

    /// <summary>Frames that arrived after their playout time.</summary>
    public long Late { get; private set; }

    /// <summary>Frames that arrived twice.</summary>
    public long Duplicates { get; private set; }

    /// <summary>Gaps played as silence that later frames proved to be losses (a pause at the end of a stream is not counted).</summary>
    public long Lost { get; private set; }

    /// <summary>Frames skipped because the sender ran ahead of the playout clock.</summary>
    public long Dropped { get; private set; }

    /// <summary>Times the stream started afresh after an SSRC change, a sequence jump or a pause.</summary>
    public long Restarts { get; private set; }

    /// <summary>Stores a frame of <paramref name="samples"/> (at most one frame; shorter ones are padded with silence).</summary>
    public JitterPutResult Put(ushort sequence, uint ssrc, ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty || samples.Length > _frame)
        {
            return JitterPutResult.Invalid;
        }

        Received++;
        if (!_active || ssrc != _ssrc)
        {
            return Restart(sequence, ssrc, samples);
        }

        var distance = RtpSequence.Distance(_next, sequence);
        if (distance < 0)
        {
            if (distance < -MaxMisorder)
            {
                return Restart(sequence, ssrc, samples);
            }

            // Before playout starts the timeline may still move back to an earlier packet that was overtaken.
            if (_prebufferTicks > 0 && RtpSequence.Distance(sequence, _highest) < Capacity)
            {
                _next = sequence;
            }
            else
            {
                Late++;
                return JitterPutResult.Late;
            }
        }
        else if (distance >= Capacity)
        {
            return Restart(sequence, ssrc, samples);
        }

        var slot = sequence & Mask;
        if (_slotFull[slot] && _slotSequence[slot] == sequence)
        {
            Duplicates++;
            return JitterPutResult.Duplicate;
        }

        Store(slot, sequence, samples);
        if (RtpSequence.IsNewer(sequence, _highest))
        {
            _highest = sequence;
        }

        return JitterPutResult.Accepted;
    }

    /// <summary>
    /// Called once per 20 ms tick: copies the frame due now into <paramref name="frame"/> (at least <see cref="FrameLength"/>
    /// samples) and returns true, or returns false when there is none (not started, still buffering, or missing): the
    /// caller plays silence.
    /// </summary>
    public bool TryRead(Span<short> frame)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frame.Length, _frame, nameof(frame));
        if (!_active)
        {
            return false;
        }

        if (_prebufferTicks > 0)
        {
            _prebufferTicks--;
            return false;
        }

        var ahead = RtpSequence.Distance(_next, _highest);
        if (ahead >= _delay + MaxExtraFrames)
        {
            SkipTo((ushort)(_highest - _delay));
        }

        var slot = _next & Mask;
        if (_slotFull[slot] && _slotSequence[slot] == _next)
        {
            _samples!.AsSpan(slot * _frame, _frame).CopyTo(frame);
            _slotFull[slot] = false;
            _next++;
            Lost += _pendingMissing;
            _pendingMissing = 0;
            _emptyTicks = 0;
            return true;
        }

        if (RtpSequence.Distance(_next, _highest) < 0)
        {
            // An underrun: nothing at or after the playout point has arrived. The point waits instead of moving on, so a
            // sender or network that stalls for a moment and then goes on at its pace is heard again at its next packet
            // (a little later) instead of having every following packet dropped as late until the stream counts as paused.
            if (++_emptyTicks >= PauseAfterEmptyTicks)
            {
                _active = false;
                _pendingMissing = 0;
            }

            return false;
        }

        // A later frame is here, so this one is lost (or so late it will be dropped): its slot plays as silence.
        _next++;
        _pendingMissing++;
        return false;
    }

    /// <summary>Forgets the stream (counters are kept) and takes frames of <paramref name="frameSamples"/> from now on (a new codec).</summary>
    public void Reset(int frameSamples)
    {
        if (frameSamples is not (FrameSamples or MaxFrameSamples))
        {
            throw new ArgumentOutOfRangeException(nameof(frameSamples), frameSamples, "frames are 20 ms at 8 or 16 kHz");
        }

        _frame = frameSamples;
        Reset();
    }

    /// <summary>Forgets the stream (counters are kept).</summary>
    public void Reset()
    {
        _active = false;
        Array.Clear(_slotFull);
        _pendingMissing = 0;
    }

    private JitterPutResult Restart(ushort sequence, uint ssrc, ReadOnlySpan<short> samples)
    {
        if (_active || Received > 1)
        {
            Restarts++;
        }

        Array.Clear(_slotFull);
        _active = true;
        _ssrc = ssrc;
        _next = sequence;
        _highest = sequence;
        _prebufferTicks = _delay;
        _emptyTicks = 0;
        _pendingMissing = 0;
        Store(sequence & Mask, sequence, samples);
        return JitterPutResult.Restarted;
    }

    private void SkipTo(ushort sequence)
    {
        while (_next != sequence)
        {
            var slot = _next & Mask;
            if (_slotFull[slot] && _slotSequence[slot] == _next)
            {
                _slotFull[slot] = false;
                Dropped++;
            }

            _next++;
        }
    }

    private void Store(int slot, ushort sequence, ReadOnlySpan<short> samples)
    {
        _samples ??= new short[Capacity * MaxFrameSamples];
        var target = _samples.AsSpan(slot * _frame, _frame);
        samples.CopyTo(target);
        target[samples.Length..].Clear();
        _slotSequence[slot] = sequence;
        _slotFull[slot] = true;
    }
}
