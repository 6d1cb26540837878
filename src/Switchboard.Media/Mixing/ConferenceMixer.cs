namespace Switchboard.Media.Mixing;

/// <summary>One party of a <see cref="ConferenceMixer"/>: its input frame for this tick and the mix it is to hear.</summary>
public sealed class MixerParty
{
    private readonly ConferenceMixer _mixer;
    private readonly short[] _input = new short[ConferenceMixer.WidebandFrameSamples];
    private readonly short[] _output = new short[ConferenceMixer.WidebandFrameSamples];

    internal MixerParty(ConferenceMixer mixer)
    {
        _mixer = mixer;
    }

    /// <summary>The party's decoded frame for this tick at the mixer's rate; only used when <see cref="HasInput"/> is set.</summary>
    public Span<short> Input => _input.AsSpan(0, _mixer.FrameLength);

    /// <summary>Whether <see cref="Input"/> holds a frame this tick (false = silent, e.g. a lost packet).</summary>
    public bool HasInput { get; set; }

    /// <summary>After <see cref="ConferenceMixer.Mix"/>: the sum of all other parties' inputs, saturated to 16 bit.</summary>
    public ReadOnlySpan<short> Output => _output.AsSpan(0, _mixer.FrameLength);

    internal short[] InputArray => _input;

    internal short[] OutputArray => _output;
}

/// <summary>
/// N-party mixer for 20 ms frames at 8 or 16 kHz: each party hears the sum of all others, never itself.
/// Allocation-free per tick; not thread-safe (the owner serialises Join, Leave, the rate and Mix).
/// </summary>
public sealed class ConferenceMixer
{
    /// <summary>Samples per frame: 20 ms at 8 kHz.</summary>
    public const int FrameSamples = 160;

    /// <summary>Samples per frame: 20 ms at 16 kHz.</summary>
    public const int WidebandFrameSamples = 320;

    private int _sampleRate = 8000;

    /// <summary>Parties per mixer; beyond this a conference is better split (and the sum would clip constantly).</summary>
    public const int MaxParties = 64;

    private readonly int[] _sum = new int[WidebandFrameSamples];

    // Replaced (not mutated) on join/leave so Mix iterates a plain array without allocating.
    private MixerParty[] _parties = [];

    /// <summary>The rate the parties' frames are at: 8000 (narrowband) or 16000 (some party is wideband).</summary>
    public int SampleRate
    {
        get => _sampleRate;
        set
        {
            if (value is not (8000 or 16000))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "the mixer runs at 8000 or 16000 Hz");
            }

            _sampleRate = value;
        }
    }

    /// <summary>Samples per frame at <see cref="SampleRate"/>: 160 or 320.</summary>
    public int FrameLength => _sampleRate / 50;

    /// <summary>Number of parties.</summary>
    public int Count => _parties.Length;

    /// <summary>The parties, in joining order.</summary>
    public IReadOnlyList<MixerParty> Parties => _parties;

    /// <summary>Adds a party (its buffers are allocated here, not per tick).</summary>
    public MixerParty Join()
    {
        if (_parties.Length >= MaxParties)
        {
            throw new InvalidOperationException($"a mixer takes at most {MaxParties} parties");
        }

        var party = new MixerParty(this);
        _parties = [.. _parties, party];
        return party;
    }

    /// <summary>Removes a party; false when it was not in this mixer.</summary>
    public bool Leave(MixerParty party)
    {
        var index = Array.IndexOf(_parties, party);
        if (index < 0)
        {
            return false;
        }

        _parties = [.. _parties.AsSpan(0, index), .. _parties.AsSpan(index + 1)];
        return true;
    }

    /// <summary>Mixes one tick: every party's <see cref="MixerParty.Output"/> becomes the sum of the other inputs.</summary>
    public void Mix()
    {
        var parties = _parties;
        var length = FrameLength;
        var sum = _sum.AsSpan(0, length);
        sum.Clear();
        foreach (var party in parties)
        {
            if (party.HasInput)
            {
                var input = party.InputArray.AsSpan(0, length);
                for (var i = 0; i < sum.Length; i++)
                {
                    sum[i] += input[i];
                }
            }
        }

        foreach (var party in parties)
        {
            var output = party.OutputArray.AsSpan(0, length);
            if (party.HasInput)
            {
                // Subtracting the own input from the exact 32-bit sum is the same as summing the others.
                var input = party.InputArray.AsSpan(0, length);
                for (var i = 0; i < output.Length; i++)
                {
                    output[i] = Saturate(sum[i] - input[i]);
                }
            }
            else
            {
                for (var i = 0; i < output.Length; i++)
                {
                    output[i] = Saturate(sum[i]);
                }
            }
        }
    }

    private static short Saturate(int value) => (short)Math.Clamp(value, short.MinValue, short.MaxValue);
}
