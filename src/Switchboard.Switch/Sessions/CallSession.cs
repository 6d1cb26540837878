using Switchboard.Sip.Transactions;
using Switchboard.Switch.Calls;
using Switchboard.Telephony;

namespace Switchboard.Switch.Sessions;

/// <summary>States of a back-to-back call as a whole (each leg has its own <see cref="LegState"/>).</summary>
internal enum SessionState
{
    /// <summary>The callee's phone is being called (INVITE out, no final response yet).</summary>
    Calling,
    /// <summary>Both legs are confirmed dialogs.</summary>
    Connected,
    /// <summary>Both legs are (being) released.</summary>
    Ended,
}

/// <summary>
/// One call through the B2BUA: the caller's leg A and the callee's leg B, and the switch's media of the call. For a call
/// dialled on a phone the switch is UAS on leg A (<see cref="InviteA"/>); for MakeCall (third-party call control) it
/// is UAC on both legs.
/// <para>
/// A session has one owner at a time: every SIP event of its legs (responses, in-dialog requests, CANCEL, timers) and
/// every command on it runs through <see cref="RunAsync{T}"/>, one after another. So a BYE that arrives while the
/// answer of the other leg is still being connected waits for that to finish instead of finding the call half-built.
/// Nothing is shared between sessions; an operation on two calls (Transfer, Conference) takes both turns in
/// <see cref="Id"/> order (<see cref="RunBothAsync{T}"/>), so two such operations cannot wait on each other.
/// </para>
/// </summary>
internal sealed class CallSession
{
    private static long _nextId;
    private readonly SemaphoreSlim _turn = new(1, 1);

    public CallSession(Leg a, ServerTransaction? inviteA, Connection caller)
    {
        A = a;
        InviteA = inviteA;
        Caller = caller;
        caller.Tag = this;
    }

    /// <summary>Orders sessions for operations that take two turns.</summary>
    public long Id { get; } = Interlocked.Increment(ref _nextId);

    /// <summary>Changed only by the owner of the turn.</summary>
    public SessionState State { get; set; } = SessionState.Calling;

    public Leg A { get; }

    public Leg? B { get; set; }

    public ServerTransaction? InviteA { get; }

    /// <summary>MakeCall: the INVITE that rings the caller's own phone first.</summary>
    public ClientTransaction? InviteAOut { get; set; }

    public ClientTransaction? InviteB { get; set; }

    /// <summary>A group call: the INVITEs ringing its members in parallel until one answers (cancelled when the call ends).</summary>
    public List<ClientTransaction> GroupInvites { get; } = [];

    /// <summary>The caller's connection; it leads back here through its <see cref="Connection.Tag"/>.</summary>
    public Connection Caller { get; }

    /// <summary>The callee's connection; setting it makes its tag lead here.</summary>
    public Connection? Callee
    {
        get;
        set
        {
            field = value;
            value?.Tag = this;
        }
    }

    public ITimer? RingTimer { get; set; }

    /// <summary>Set when the call's media runs through the switch's mixer (anchored calls, transfers, conferences).</summary>
    public ConferenceRoom? Room { get; set; }

    /// <summary>True for a MakeCall: the switch rang the caller's phone itself.</summary>
    public bool IsThirdParty => InviteA is null;

    /// <summary>The other leg of the call.</summary>
    public Leg? Other(Leg leg) => leg == A ? B : A;

    /// <summary>The call-model connection of a leg's phone in this call.</summary>
    public Connection? ConnectionOf(Leg leg) =>
        leg == A ? Caller : leg == B ? Callee : Room?.Find(leg)?.Connection;

    /// <summary>Makes a connection lead to this session (the caller's is adopted once the constructor ran).</summary>
    public void Adopt(Connection connection) => connection.Tag = this;

    /// <summary>Runs <paramref name="operation"/> as the session's only owner; callers already inside the turn call the operation directly.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> operation)
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            return await operation().ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <inheritdoc cref="RunAsync{T}"/>
    public Task RunAsync(Func<Task> operation) => RunAsync(async () =>
    {
        await operation().ConfigureAwait(false);
        return true;
    });

    /// <summary>Runs an operation on two sessions, owning both; the turns are taken in <see cref="Id"/> order.</summary>
    public static Task<T> RunBothAsync<T>(CallSession x, CallSession y, Func<Task<T>> operation)
    {
        if (x == y) return x.RunAsync(operation);
        var (first, second) = x.Id < y.Id ? (x, y) : (y, x);
        return first.RunAsync(() => second.RunAsync(operation));
    }
}
