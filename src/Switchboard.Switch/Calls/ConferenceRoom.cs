using Switchboard.Media;
using Switchboard.Telephony;

namespace Switchboard.Switch.Calls;

/// <summary>
/// A conference on the switch: the mixer and, per party, the leg to its phone, the switch's RTP endpoint that phone
/// sends to, and its connection in the call model. Guarded by the owning call's gate.
/// </summary>
internal sealed class ConferenceRoom(Conference mixer)
{
    private readonly List<(Leg Leg, RtpEndpoint Endpoint, Connection Connection)> _members = [];

    /// <summary>The mixer: each member hears the sum of the others.</summary>
    public Conference Mixer { get; } = mixer;

    /// <summary>The members (snapshot).</summary>
    public IReadOnlyList<(Leg Leg, RtpEndpoint Endpoint, Connection Connection)> Members
    {
        get { lock (_members) return [.. _members]; }
    }

    /// <summary>Adds a party whose phone already sends to <paramref name="endpoint"/>.</summary>
    public void Add(Leg leg, RtpEndpoint endpoint, Connection connection)
    {
        lock (_members) _members.Add((leg, endpoint, connection));
        Mixer.Add(endpoint);
    }

    /// <summary>Takes a party out of the mix; null if it was not (or no longer) a member.</summary>
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
}
