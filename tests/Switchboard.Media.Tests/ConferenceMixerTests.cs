using Switchboard.Media.Mixing;

namespace Switchboard.Media.Tests;

public class ConferenceMixerTests
{
    private static readonly double[] Tones = [440, 1000, 1700];

    /// <summary>Runs <paramref name="ticks"/> ticks with every party playing its tone and returns what each heard.</summary>
    private static short[][] Run(ConferenceMixer mixer, IReadOnlyList<MixerParty> parties, IReadOnlyList<double> tones, int ticks)
    {
        var heard = parties.Select(_ => new short[ticks * ConferenceMixer.FrameSamples]).ToArray();
        for (var tick = 0; tick < ticks; tick++)
        {
            for (var p = 0; p < parties.Count; p++)
            {
                Goertzel.Tone(parties[p].Input, tones[p], (long)tick * ConferenceMixer.FrameSamples);
                parties[p].HasInput = true;
            }

            mixer.Mix();
            for (var p = 0; p < parties.Count; p++)
            {
                parties[p].Output.CopyTo(heard[p].AsSpan(tick * ConferenceMixer.FrameSamples));
            }
        }

        return heard;
    }

    private static void AssertHears(short[] heard, IEnumerable<double> present, IEnumerable<double> absent)
    {
        foreach (var frequency in present)
        {
            // A tone of amplitude 8000 has power 8000² = 6.4e7.
            Assert.InRange(Goertzel.Power(heard, frequency), 3e7, 1.3e8);
        }

        foreach (var frequency in absent)
        {
            Assert.InRange(Goertzel.Power(heard, frequency), 0, 1e4);
        }
    }

    [Fact]
    public void Each_of_three_parties_hears_the_other_two_tones_and_not_its_own()
    {
        var mixer = new ConferenceMixer();
        var parties = new[] { mixer.Join(), mixer.Join(), mixer.Join() };
        var heard = Run(mixer, parties, Tones, 10);
        for (var p = 0; p < 3; p++)
        {
            AssertHears(heard[p], Tones.Where((_, i) => i != p), [Tones[p]]);
        }
    }

    [Fact]
    public void After_one_leaves_the_other_two_still_hear_each_other()
    {
        var mixer = new ConferenceMixer();
        var a = mixer.Join();
        var b = mixer.Join();
        var c = mixer.Join();
        Run(mixer, [a, b, c], Tones, 3);
        Assert.True(mixer.Leave(b));
        Assert.False(mixer.Leave(b));
        Assert.Equal(2, mixer.Count);
        var heard = Run(mixer, [a, c], [Tones[0], Tones[2]], 10);
        AssertHears(heard[0], [Tones[2]], [Tones[0], Tones[1]]);
        AssertHears(heard[1], [Tones[0]], [Tones[1], Tones[2]]);
    }

    [Fact]
    public void A_party_that_joins_later_hears_everyone_and_is_heard()
    {
        var mixer = new ConferenceMixer();
        var a = mixer.Join();
        var b = mixer.Join();
        Run(mixer, [a, b], Tones, 2);
        var c = mixer.Join();
        var heard = Run(mixer, [a, b, c], Tones, 10);
        AssertHears(heard[2], [Tones[0], Tones[1]], [Tones[2]]);
        AssertHears(heard[0], [Tones[1], Tones[2]], [Tones[0]]);
    }

    [Fact]
    public void A_party_without_input_hears_all_others_and_adds_nothing()
    {
        var mixer = new ConferenceMixer();
        var a = mixer.Join();
        var b = mixer.Join();
        var silent = mixer.Join();
        a.Input.Fill(1000);
        a.HasInput = true;
        b.Input.Fill(-300);
        b.HasInput = true;
        silent.Input.Fill(5000); // stale data must be ignored
        silent.HasInput = false;
        mixer.Mix();
        Assert.All(a.Output.ToArray(), s => Assert.Equal(-300, s));
        Assert.All(b.Output.ToArray(), s => Assert.Equal(1000, s));
        Assert.All(silent.Output.ToArray(), s => Assert.Equal(700, s));
    }

    [Fact]
    public void The_sum_saturates_at_16_bit()
    {
        var mixer = new ConferenceMixer();
        var parties = Enumerable.Range(0, 4).Select(_ => mixer.Join()).ToArray();
        parties[0].Input.Fill(30000);
        parties[1].Input.Fill(30000);
        parties[2].Input.Fill(-30000);
        parties[3].Input.Fill(-30000);
        foreach (var party in parties)
        {
            party.HasInput = true;
        }

        mixer.Mix();
        Assert.All(parties[0].Output.ToArray(), s => Assert.Equal(-30000, s));
        parties[2].HasInput = false;
        parties[3].HasInput = false;
        parties[1].Input.Fill(20000);
        var third = mixer.Join();
        third.Input.Fill(20000);
        third.HasInput = true;
        mixer.Mix();
        Assert.All(parties[2].Output.ToArray(), s => Assert.Equal(short.MaxValue, s));
        Assert.All(parties[0].Output.ToArray(), s => Assert.Equal(short.MaxValue, s));
        Assert.All(third.Output.ToArray(), s => Assert.Equal(short.MaxValue, s));
    }

    [Fact]
    public void A_lone_party_hears_silence()
    {
        var mixer = new ConferenceMixer();
        var a = mixer.Join();
        a.Input.Fill(1234);
        a.HasInput = true;
        mixer.Mix();
        Assert.All(a.Output.ToArray(), s => Assert.Equal(0, s));
    }

    [Fact]
    public void Mixing_does_not_allocate()
    {
        var mixer = new ConferenceMixer();
        var parties = Enumerable.Range(0, 3).Select(_ => mixer.Join()).ToArray();
        foreach (var party in parties)
        {
            party.Input.Fill(100);
            party.HasInput = true;
        }

        mixer.Mix();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            mixer.Mix();
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
