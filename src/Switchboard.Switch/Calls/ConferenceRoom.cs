using Switchboard.Media;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch.Calls;

/// <summary>
/// Media anchored in the switch for one call: the mixer and, per party, the leg to its phone, the switch's RTP
/// endpoint that phone sends to, and its connection in the call model. Two members make an ordinary call (each hears
/// the other), three a conference. While held, the members stay but are out of the mix, so nobody hears anything.
/// </summary>
internal sealed class ConferenceRoom(Conference mixer)
{
    private readonly List<(Leg Leg, RtpEndpoint Endpoint, Connection Connection)> _members = [];
    private bool _held;

    /// <summary>The mixer: each member hears the sum of the others.</summary>
    public Conference Mixer { get; } = mixer;

    /// <summary>The members (snapshot).</summary>
    public IReadOnlyList<(Leg Leg, RtpEndpoint Endpoint, Connection Connection)> Members
    {
        get { lock (_members) return [.. _members]; }
    }

    /// <summary>Adds a party whose phone sends to <paramref name="endpoint"/>.</summary>
    public void Add(Leg leg, RtpEndpoint endpoint, Connection connection)
    {
        lock (_members)
        {
            _members.Add((leg, endpoint, connection));
            if (!_held) Mixer.Add(endpoint);
        }
    }

    /// <summary>Takes a party out (its endpoint stays open, for another room or for disposal); null if it was not a member.</summary>
    public (Leg Leg, RtpEndpoint Endpoint, Connection Connection)? Remove(Leg leg)
    {
        lock (_members)
        {
            int i = _members.FindIndex(m => m.Leg == leg);
            if (i < 0) return null;
            var m = _members[i];
            _members.RemoveAt(i);
            Mixer.Remove(m.Endpoint);
            return m;
        }
    }

    /// <summary>The member on a leg.</summary>
    public (Leg Leg, RtpEndpoint Endpoint, Connection Connection)? Find(Leg leg)
    {
        lock (_members) return _members.FirstOrDefault(m => m.Leg == leg) is { Leg: not null } m ? m : null;
    }

    /// <summary>Hold (everyone out of the mix) or retrieve (everyone back in).</summary>
    public void SetHeld(bool held)
    {
        lock (_members)
        {
            if (_held == held) return;
            _held = held;
            foreach (var m in _members)
            {
                if (held) Mixer.Remove(m.Endpoint);
                else Mixer.Add(m.Endpoint);
            }
        }
    }
}
