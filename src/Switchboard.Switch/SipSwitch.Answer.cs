using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Calls;
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
                if (_learnedAnswer.TryAdd(device, AnswerMethod.Talk)) _log.LogInformation("Phone {Device} accepts NOTIFY talk: Answer will use it", device);
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
        var call = Calls.FirstOrDefault(c => c.Callee == ringing && c.B?.Device == device);
        if (call?.B is not { } leg) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call is not on this switch");
        var method = AnswerMethodOf(device);
        switch (method)
        {
            case AnswerMethod.Talk:
                if (leg.Dialog.RemoteTag is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the phone has not sent 180 Ringing yet");
                var notify = leg.Dialog.NewRequest("NOTIFY", ContactFor(call.Caller.Party, leg.Dialog.Peer));
                notify.Add("Event", "talk");
                notify.Add("Subscription-State", "terminated;reason=noresource");
                var r = await _layer.Send(notify, leg.Dialog.Peer).FinalResponse.ConfigureAwait(false);
                if (r.StatusCode is >= 200 and < 300)
                    return CallControlResult.Ok($"{what}: asked the phone to answer (NOTIFY talk accepted)");
                _log.LogWarning("Phone {Device} refused NOTIFY talk: {Code} {Reason}", device, r.StatusCode, r.Reason);
                _learnedAnswer[device] = AnswerMethod.None;
                return CallControlResult.Fail(ReplyCode.NotImplemented, $"{what}: the phone refused NOTIFY talk ({r.StatusCode} {r.Reason}); answer on the phone");
            case AnswerMethod.AutoAnswer:
                // The same phone is offered the call again, this time with auto-answer hints.
                return Retarget(what, ringing, device, autoAnswer: true, cause: null);
            default:
                return CallControlResult.Fail(ReplyCode.NotImplemented,
                    $"{what}: the phone at {device} accepts neither NOTIFY talk nor auto-answer hints (Sip:AnswerMethods); answer on the phone");
        }
    }
}
