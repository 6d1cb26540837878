using Switchboard.Sip.Transactions;
using Switchboard.Telephony;

namespace Switchboard.Switch.Calls;

/// <summary>States of a back-to-back call.</summary>
internal enum B2BState
{
    /// <summary>The callee's phone is being called (INVITE out, no final response yet).</summary>
    Calling,
    /// <summary>Both legs are confirmed dialogs; media flows phone to phone.</summary>
    Connected,
    /// <summary>Both legs are (being) released.</summary>
    Ended,
}

/// <summary>
/// A call through the B2BUA: the caller's leg A and the callee's leg B. For a call dialled on a phone the switch is UAS
/// on leg A (<see cref="InviteA"/>); for MakeCall (third-party call control) it is UAC on both legs.
/// </summary>
internal sealed class B2BCall(Leg a, ServerTransaction? inviteA, Connection caller)
{
    public object Gate { get; } = new();

    public B2BState State { get; set; } = B2BState.Calling;

    public Leg A { get; } = a;

    public Leg? B { get; set; }

    public ServerTransaction? InviteA { get; } = inviteA;

    /// <summary>MakeCall: the INVITE that rings the caller's own phone first.</summary>
    public ClientTransaction? InviteAOut { get; set; }

    public ClientTransaction? InviteB { get; set; }

    /// <summary>A group call: the INVITEs ringing its members in parallel until one answers (cancelled when the call ends).</summary>
    public List<ClientTransaction> GroupInvites { get; } = [];

    public Connection Caller { get; } = caller;

    public Connection? Callee { get; set; }

    public ITimer? RingTimer { get; set; }

    /// <summary>Set when the call became a conference: its media then runs through the switch's mixer.</summary>
    public ConferenceRoom? Room { get; set; }

    /// <summary>The other leg of the call.</summary>
    public Leg? Other(Leg leg) => leg == A ? B : A;
}
