using System.Collections.Concurrent;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>How the switch can make a ringing phone go off-hook.</summary>
public enum AnswerMethod
{
    /// <summary>Not known to work: Answer replies 501.</summary>
    None,
    /// <summary>NOTIFY with <c>Event: talk</c> in the call's dialog (BroadSoft-style remote control).</summary>
    Talk,
    /// <summary>The call is offered again with auto-answer hints (Call-Info answer-after=0, Alert-Info).</summary>
    AutoAnswer,
}

/// <summary>
/// Answer on SIP phones. A phone that lists <c>talk</c> in <c>Allow-Events</c> (in its INVITE, 180 or REGISTER) is
/// sent <c>NOTIFY Event: talk</c>; a device configured for auto-answer hints gets the call offered again with them;
/// any other phone cannot be answered remotely, which Answer says with 501 instead of doing nothing.
/// </summary>
public sealed partial class SipSwitch
{
    private readonly ConcurrentDictionary<string, AnswerMethod> _learnedAnswer = new(StringComparer.Ordinal);

    /// <summary>The method Answer uses for a device: configured, else learned from the phone, else none.</summary>
    public AnswerMethod AnswerMethodOf(string device) =>
        _options.AnswerMethods.TryGetValue(device, out var configured) ? configured : _learnedAnswer.GetValueOrDefault(device, AnswerMethod.None);

    /// <summary>Notes what a phone announced in Allow-Events.</summary>
    internal void LearnAnswerMethod(string device, string? allowEvents)
    {
        if (allowEvents is null) return;
        foreach (var e in allowEvents.Split(','))
        {
            if (e.Trim().Equals("talk", StringComparison.OrdinalIgnoreCase))
            {
                if (_learnedAnswer.TryAdd(device, AnswerMethod.Talk)) SwitchLog.LearnedTalk(_log, device);
                return;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Answer {device}";
        if (Precheck(what, device) is { } refused) return refused;
        var ringing = _model.FirstInState(device, ConnectionState.Alerting);
        if (ringing is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing call at {device}");
        if (SessionOf(ringing) is not { } call) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call is not on this switch");
        return await call.RunAsync(() => AnswerInTurnAsync(what, call, ringing, device)).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers a ringing leg, in its session's turn: the callee's phone of any call, or the caller's own phone of a
    /// MakeCall, which rings first (its INVITE carried the auto-answer hints already, so only NOTIFY talk is left).
    /// </summary>
    private async Task<CallControlResult> AnswerInTurnAsync(string what, CallSession call, Connection ringing, string device)
    {
        bool ownPhone = call.IsThirdParty && call.Caller == ringing;
        Leg? leg = ownPhone ? call.A : call.Callee == ringing && call.B?.Device == device ? call.B : null;
        if (leg is null || ringing.State != ConnectionState.Alerting || call.State != SessionState.Calling)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call stopped ringing meanwhile");
        var method = AnswerMethodOf(device);
        switch (method)
        {
            case AnswerMethod.Talk:
                if (leg.State != LegState.Early) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phone has not sent 180 Ringing yet");
                var notify = leg.Dialog.NewRequest("NOTIFY", ContactFor(ownPhone ? call.Caller.Call.Called : call.Caller.Party, leg.Dialog.Peer));
                notify.Add("Event", "talk");
                notify.Add("Subscription-State", "terminated;reason=noresource");
                var r = await _layer.Send(notify, leg.Dialog.Peer).FinalResponse.ConfigureAwait(false);
                if (r.StatusCode is >= 200 and < 300)
                    return CallControlResult.Ok($"{what}: asked the phone to answer (NOTIFY talk accepted)");
                SwitchLog.TalkRefused(_log, device, r.StatusCode, r.Reason);
                _learnedAnswer[device] = AnswerMethod.None;
                return CallControlResult.Fail(ReplyCode.NotImplemented, $"{what}: the phone refused NOTIFY talk ({r.StatusCode} {r.Reason}); answer on the phone");
            case AnswerMethod.AutoAnswer when ownPhone:
                return CallControlResult.Fail(ReplyCode.NotImplemented,
                    $"{what}: the phone was offered this MakeCall with auto-answer hints already and did not answer; answer on the phone");
            case AnswerMethod.AutoAnswer:
                // The same phone is offered the call again, this time with auto-answer hints.
                return Retarget(what, call, ringing, device, autoAnswer: true, cause: null);
            default:
                return CallControlResult.Fail(ReplyCode.NotImplemented,
                    $"{what}: the phone at {device} accepts neither NOTIFY talk nor auto-answer hints (Sip:AnswerMethods); answer on the phone");
        }
    }
}
