using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>
/// Calls that could not reach their destination end with a <c>Failed</c> event, as on the built-in switch: a callee
/// that refuses while ringing (its SIP status from <c>TechCause</c>), and a call whose placing channel ends before any
/// other party appeared (do-not-disturb, no phone registered, an extension without an endpoint, congestion).
/// </summary>
public sealed partial class AsteriskPhoneSystem
{
    /// <summary>Handles a Hangup that means "the call failed"; false when it is an ordinary hangup.</summary>
    private bool OnFailedHangup(HangupEvent e)
    {
        if (!_channels.TryGetValue(e.Channel.Uniqueid, out var chan) || chan.Conn is not { } conn) return false;
        var call = conn.Call;
        if (call.Ended || !call.Connections.Contains(conn)) return false;

        // The ringing phone refused (baresip and most phones answer 486 or 603 to a reject key).
        if (conn.State == ConnectionState.Alerting && e.Cause is CauseBusy or CauseRejected && SipStatus(e.TechCause) is { } refusal)
        {
            _channels.Remove(chan.Uniqueid);
            _model.Fail(conn, refusal, e.Cause == CauseBusy ? CallOutcome.Busy : CallOutcome.Rejected);
            return true;
        }

        // The same refusal seen from the caller's side: Dial() returned BUSY or a rejection and the dialplan hung the
        // caller up, an event that can come before the callee channel's own Hangup.
        if (conn.Party == call.Calling && e.Cause is CauseBusy or CauseRejected && call.Connections.Count == 2
            && call.Connections.FirstOrDefault(c => c != conn) is { State: ConnectionState.Alerting } callee)
        {
            _channels.Remove(chan.Uniqueid);
            _pending.RemoveAll(p => p.Channel == chan);
            _model.Fail(callee, SipStatus(e.TechCause) ?? (e.Cause == CauseBusy ? "486 Busy Here" : "603 Decline"),
                e.Cause == CauseBusy ? CallOutcome.Busy : CallOutcome.Rejected);
            return true;
        }

        // The placing party's channel ends and nobody else ever joined: the destination was never reached.
        if (conn.Party != call.Calling || call.Connections.Count != 1 || !conn.IsDevice) return false;
        if (UnreachedCause(e.Cause, call.Called) is not { } why) return false;
        _channels.Remove(chan.Uniqueid);
        _pending.RemoveAll(p => p.Channel == chan);
        _model.AddParty(call, call.Called, ConnectionState.Failed, CallEventType.Failed, why.Cause);
        _model.EndCall(call, why.EndCause, why.Outcome);
        return true;
    }

    private const int CauseUnallocated = 1, CauseNoRoute = 3, CauseBusy = 17, CauseSubscriberAbsent = 20, CauseRejected = 21,
        CauseCongestion = 34, CauseNoCircuit = 38, CauseTemporaryFailure = 41, CauseSwitchCongestion = 42;

    private readonly record struct Unreached(string Cause, string EndCause, CallOutcome Outcome);

    /// <summary>The built-in switch's causes for a destination that could not be offered the call.</summary>
    private Unreached? UnreachedCause(int cause, string called) => cause switch
    {
        CauseBusy when _model.IsDevice(called) && _model.GetForwarding(called).Mode == ForwardingMode.DoNotDisturb =>
            new("do not disturb", "busy", CallOutcome.Busy),
        CauseBusy => new("busy", "busy", CallOutcome.Busy),
        CauseSubscriberAbsent => new("not registered", "unreachable", CallOutcome.Failed),
        CauseUnallocated or CauseNoRoute when _model.IsDevice(called) && !_model.IsReachable(called) =>
            new("not registered", "unreachable", CallOutcome.Failed),
        CauseUnallocated or CauseNoRoute => new("no phone at " + called, "unreachable", CallOutcome.Failed),
        CauseRejected => new("rejected", "rejected", CallOutcome.Rejected),
        CauseCongestion or CauseNoCircuit or CauseTemporaryFailure or CauseSwitchCongestion => new("congestion", "congestion", CallOutcome.Failed),
        _ => null,
    };

    /// <summary>"486 Busy Here" from Asterisk 22's TechCause (the SIP status the phone answered), as the built-in switch says it.</summary>
    private static string? SipStatus(string? techCause)
    {
        if (!int.TryParse(techCause, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code) || code is < 400 or > 699)
            return null;
        return code switch
        {
            480 => "480 Temporarily Unavailable",
            486 => "486 Busy Here",
            600 => "600 Busy Everywhere",
            603 => "603 Decline",
            _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
