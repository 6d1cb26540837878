using Switchboard.Media.Mixing;

namespace Switchboard.Media;

/// <summary>A set of endpoints that hear each other: mixed on the engine's clock, DTMF relayed between members.</summary>
public sealed class Conference : IAsyncDisposable
{
    private readonly MediaEngine _engine;
    private readonly Lock _gate = new();
    private readonly ConferenceMixer _mixer = new();

    // Replaced under the lock on Add/Remove; readers (tick, DTMF relay) take the current array without locking.
    private Member[] _members = [];
    private bool _disposed;

    internal Conference(MediaEngine engine)
    {
        _engine = engine;
    }

    /// <summary>Number of member endpoints.</summary>
    public int Count => Volatile.Read(ref _members).Length;

    /// <summary>Adds an endpoint; it starts sending the mix of the others at the next tick. An endpoint is in at most one conference.</summary>
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

            _mixer.Leave(_members[index].Party);
            _members = [.. _members.AsSpan(0, index), .. _members.AsSpan(index + 1)];
            endpoint.Detach(this);
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

    /// <summary>One 20 ms tick on the engine's clock: read each member's jitter buffer, mix, send.</summary>
    internal void Tick()
    {
        lock (_gate)
        {
            var members = _members;
            if (members.Length == 0)
            {
                return;
            }

            foreach (var member in members)
            {
                member.Party.HasInput = member.Endpoint.ReadFrame(member.Party.Input);
            }

            _mixer.Mix();
            foreach (var member in members)
            {
                member.Endpoint.SendFrame(member.Party.Output);
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

    private sealed record Member(RtpEndpoint Endpoint, MixerParty Party);
}
