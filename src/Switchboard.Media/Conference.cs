using Microsoft.Extensions.Logging;
using Switchboard.Media.Codecs;
using Switchboard.Media.Mixing;

namespace Switchboard.Media;

/// <summary>How a <see cref="Conference"/> carries its members' media at the moment.</summary>
public enum ConferenceMode
{
    /// <summary>Fewer than two members: nobody to hear, nothing sent, no tick.</summary>
    Idle,

    /// <summary>Two members of one codec: each packet goes to the other member as it arrives; no decode, mix or tick.</summary>
    Relay,

    /// <summary>Three or more members, or two of different codecs: decoded, mixed and encoded on the engine's 20 ms clock.</summary>
    Mix,
}

/// <summary>
/// A set of endpoints that hear each other. Two members of one codec are relayed packet by packet (as rtpengine and
/// Asterisk's native RTP bridge do); three or more, or two that need transcoding, are mixed on the engine's clock, DTMF
/// relayed between members. Each member's outgoing stream stays one stream across the changes.
/// </summary>
public sealed class Conference : IAsyncDisposable
{
    private readonly MediaEngine _engine;
    private readonly Lock _gate = new();
    private readonly ConferenceMixer _mixer = new();

    // Replaced under the lock on Add/Remove; readers (tick, DTMF relay) take the current array without locking.
    private Member[] _members = [];
    private ConferenceMode _mode;
    private bool _disposed;
    private bool _keepMixing;

    internal Conference(MediaEngine engine)
    {
        _engine = engine;
    }

    /// <summary>Number of member endpoints.</summary>
    public int Count => Volatile.Read(ref _members).Length;

    /// <summary>Whether the members are relayed, mixed on the clock, or too few to hear anything.</summary>
    public ConferenceMode Mode
    {
        get
        {
            lock (_gate) return _mode;
        }
    }

    /// <summary>
    /// Adds an endpoint; it hears the other member's packets as they arrive (two members) or the mix of the others from
    /// the next tick (three or more). An endpoint is in at most one conference.
    /// </summary>
    public void Add(RtpEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Array.Exists(_members, m => m.Endpoint == endpoint))
            {
                return;
            }

            if (!endpoint.TryAttach(this))
            {
                throw new InvalidOperationException("the endpoint is already in another conference (or disposed)");
            }

            var party = _mixer.Join();
            _members = [.. _members, new Member(endpoint, party)];
            Reconfigure();
        }
    }

    /// <summary>Removes an endpoint (no-op when it is not a member); it stops sending at once.</summary>
    public void Remove(RtpEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        lock (_gate)
        {
            var index = Array.FindIndex(_members, m => m.Endpoint == endpoint);
            if (index < 0)
            {
                return;
            }

            var member = _members[index];
            _mixer.Leave(member.Party);
            _members = [.. _members.AsSpan(0, index), .. _members.AsSpan(index + 1)];
            endpoint.RelayTo(null);
            member.Mixing = false;
            endpoint.Detach(this);
            Reconfigure();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Member[] members;
        lock (_gate)
        {
            _disposed = true;
            members = _members;
        }

        foreach (var member in members)
        {
            Remove(member.Endpoint);
        }

        _engine.Unregister(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Keeps the conference on the mixer's clock even with two members of one codec, instead of relaying their
    /// packets: the switch then has a stream of its own to each phone, into which it can send digits (Dtmf command).
    /// </summary>
    public void KeepMixing()
    {
        lock (_gate)
        {
            if (_disposed || _keepMixing)
            {
                return;
            }

            _keepMixing = true;
            Reconfigure();
        }
    }

    /// <summary>A member's codec changed (new SDP): relay and mixer are chosen again.</summary>
    internal void MembersChanged()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                Reconfigure();
            }
        }
    }

    /// <summary>The rate the members are mixed at: 16000 while any member speaks a wideband codec, else 8000.</summary>
    public int SampleRate
    {
        get
        {
            lock (_gate) return _mixer.SampleRate;
        }
    }

    /// <summary>
    /// One 20 ms tick on the engine's clock: read each member's jitter buffer, mix, send. In a 16 kHz mix the
    /// narrowband members' frames are doubled in rate on the way in and halved on the way out.
    /// </summary>
    internal void Tick()
    {
        lock (_gate)
        {
            var members = _members;
            if (_mode != ConferenceMode.Mix)
            {
                return;
            }

            var length = _mixer.FrameLength;
            foreach (var member in members)
            {
                var party = member.Party;
                var read = member.Endpoint.ReadFrame(member.Frame);
                if (read == length)
                {
                    member.Frame.AsSpan(0, length).CopyTo(party.Input);
                    party.HasInput = true;
                }
                else if (read * 2 == length)
                {
                    member.Up.Process(member.Frame.AsSpan(0, read), party.Input);
                    party.HasInput = true;
                }
                else
                {
                    // Silence (or a frame of a codec that changed this very tick): the filter starts from quiet again.
                    member.Up.Reset();
                    party.HasInput = false;
                }
            }

            _mixer.Mix();
            foreach (var member in members)
            {
                var output = member.Party.Output;
                if (member.Endpoint.SampleRate == _mixer.SampleRate)
                {
                    member.Endpoint.SendFrame(output);
                }
                else
                {
                    var written = member.Down.Process(output, member.Frame);
                    member.Endpoint.SendFrame(member.Frame.AsSpan(0, written));
                }
            }
        }
    }

    /// <summary>Queues a digit received on <paramref name="from"/> for every other member to send as telephone-events.</summary>
    internal void RelayDtmf(RtpEndpoint from, byte eventCode, ushort duration)
    {
        foreach (var member in Volatile.Read(ref _members))
        {
            if (member.Endpoint != from)
            {
                member.Endpoint.QueueDtmf(eventCode, duration);
            }
        }
    }

    /// <summary>Under the lock: relay, mix or idle for the members there are now, and the endpoints told.</summary>
    private void Reconfigure()
    {
        var members = _members;
        var mode = members.Length switch
        {
            < 2 => ConferenceMode.Idle,

            // A member without SDP yet has no codec; it cannot be sent to, so it forces no transcoding either.
            2 when !_keepMixing && (members[0].Endpoint.Codec is not { } a || members[1].Endpoint.Codec is not { } b || a == b) => ConferenceMode.Relay,
            _ => ConferenceMode.Mix,
        };

        foreach (var member in members)
        {
            member.Endpoint.RelayTo(mode == ConferenceMode.Relay ? Other(members, member).Endpoint : null);
            var mixing = mode == ConferenceMode.Mix;
            if (mixing && !member.Mixing)
            {
                member.Endpoint.StartMixing();
            }

            member.Mixing = mixing;
        }

        // Wideband as soon as one member is: its audio above 4 kHz would be lost otherwise, and the narrowband members
        // lose nothing (their band is a part of it).
        var rate = Array.Exists(members, m => m.Endpoint.Codec is { } c && AudioCodecs.IsWideband(c)) ? 16000 : 8000;
        if (rate != _mixer.SampleRate)
        {
            _mixer.SampleRate = rate;
            foreach (var member in members)
            {
                member.ResetFilters();
            }
        }

        if (mode != _mode)
        {
            MediaLog.ModeChanged(_engine.Logger, members.Length, mode);
            _mode = mode;
            _engine.SetMixing(this, mode == ConferenceMode.Mix);
        }
    }

    private static Member Other(Member[] pair, Member one) => pair[0] == one ? pair[1] : pair[0];

    private sealed class Member(RtpEndpoint endpoint, MixerParty party)
    {
        public RtpEndpoint Endpoint { get; } = endpoint;

        public MixerParty Party { get; } = party;

        // Clock thread, under the conference lock: the frame at the member's own rate, and its rate converters. Taken
        // on the first tick that mixes: the members of a relayed two-party call never need them.
        private short[]? _frame;
        private Upsampler? _up;
        private Downsampler? _down;

        public short[] Frame => _frame ??= new short[ConferenceMixer.WidebandFrameSamples];

        public Upsampler Up => _up ??= new();

        public Downsampler Down => _down ??= new();

        public void ResetFilters()
        {
            _up?.Reset();
            _down?.Reset();
        }

        // Under the conference lock: whether the endpoint is sending on the clock.
        public bool Mixing { get; set; }
    }
}
