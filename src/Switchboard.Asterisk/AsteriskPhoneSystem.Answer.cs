using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>
/// Answer on Asterisk. AMI has no "answer" for a SIP phone; PJSIPNotify sends <c>Event: talk</c> to the phone,
/// but its Success only means "sent": the phone may answer 481/489 and keep ringing, which AMI never
/// reports. So a phone not known to obey is tried once and watched: if the call is not answered within
/// <see cref="AsteriskOptions.AnswerTimeoutMs"/>, a <c>Failed</c> event says so and later Answers reply 501 at once.
/// </summary>
public sealed partial class AsteriskPhoneSystem
{
    private readonly ConcurrentDictionary<string, AnswerMethod> _learnedAnswer = new(StringComparer.Ordinal);

    /// <summary>The method Answer uses for a device: configured, else learned, else null (not known yet: try).</summary>
    public AnswerMethod? AnswerMethodOf(string device) =>
        _options.AnswerMethods.TryGetValue(device, out var configured) ? configured
        : _learnedAnswer.TryGetValue(device, out var learned) ? learned : null;

    /// <inheritdoc />
    public async ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Answer {device}";
        if (Check(what, device) is { } fail) return fail;
        var ringing = _model.FirstInState(device, ConnectionState.Alerting);
        if (ringing is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing call at {device}");
        var method = AnswerMethodOf(device);
        if (method == AnswerMethod.None)
        {
            var why = _options.AnswerMethods.ContainsKey(device) ? "Asterisk:AnswerMethods says it cannot" : "it ignored the last NOTIFY talk";
            return CallControlResult.Fail(ReplyCode.NotImplemented, $"{what}: the phone at {device} cannot be answered remotely ({why}); answer on the phone");
        }
        if (ringing.Tag is not Chan) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call is not set up at Asterisk yet");

        // Out of dialog, to the endpoint's contact: sent in the call's dialog (PJSIPNotify Channel) a phone's 481 makes
        // Asterisk end the ringing call with a BYE (seen with baresip), out of dialog a 481 leaves it ringing.
        var action = new AmiAction("PJSIPNotify").Add("Endpoint", device).Add("Variable", "Event=talk");
        var r = await SendAsync(what, action, cancellationToken).ConfigureAwait(false);
        if (r.Failure is { } f) return f;
        if (!r.Response!.IsSuccess)
            return CallControlResult.Fail(ReplyCode.NotImplemented, $"{what}: Asterisk could not send NOTIFY talk to the phone ({r.Response.Message}); answer on the phone");
        _ = WatchAnswerAsync(device, ringing, learn: method is null);
        return method == AnswerMethod.Talk
            ? CallControlResult.Ok($"{what}: asked the phone to answer (NOTIFY talk)")
            : CallControlResult.Ok($"{what}: asked the phone to answer (NOTIFY talk); a Failed event follows if it does not");
    }

    /// <summary>After the timeout: still ringing means the phone ignored the NOTIFY.</summary>
    private async Task WatchAnswerAsync(string device, Connection ringing, bool learn)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(100, _options.AnswerTimeoutMs)), _time, _cts?.Token ?? CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_model.SyncRoot)
        {
            var call = ringing.Call;
            if (call.Ended || !call.Connections.Contains(ringing)) return;
            if (ringing.State != ConnectionState.Alerting)
            {
                if (learn && _learnedAnswer.TryAdd(device, AnswerMethod.Talk)) LogAnswerLearned(_log, device, "obeys");
                return;
            }
            if (learn && _learnedAnswer.TryAdd(device, AnswerMethod.None)) LogAnswerLearned(_log, device, "ignored");
            _model.Events.Publish(CallEventType.Failed, device, call.Id, ConnectionState.Alerting, device, call.Calling, call.Called,
                "phone did not answer (NOTIFY talk)");
        }
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Phone {Device} {Outcome} NOTIFY talk: Answer remembers it")]
    private static partial void LogAnswerLearned(ILogger log, string device, string outcome);
}
