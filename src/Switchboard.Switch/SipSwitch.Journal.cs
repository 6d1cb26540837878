using Microsoft.Extensions.Logging;
using Switchboard.Sip.Transactions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>Calls that end before they begin: a number nothing routes is journalled and logged, then refused with 404.</summary>
public sealed partial class SipSwitch
{
    /// <summary>
    /// A phone dialled <paramref name="dialled"/> and no extension or trunk takes it: a journal row (outcome not-found)
    /// and a log line, so a wrong speed-dial entry is visible without a packet capture, then the 404.
    /// </summary>
    private async Task RefuseNotFoundAsync(ServerTransaction txn, string caller, string dialled, string reason)
    {
        var id = _model.RecordNotFound(caller, dialled);
        JournalLog.NotFound(_log, id, caller, dialled, reason);
        await txn.RespondAsync(404, $"Not Found ({reason})").ConfigureAwait(false);
    }

    /// <summary>The journal's outcome for a phone's final refusal of an INVITE (RFC 3261 §21 classes).</summary>
    internal static CallOutcome OutcomeOfRefusal(int status) => status switch
    {
        486 or 600 => CallOutcome.Busy,
        603 => CallOutcome.Rejected,
        408 or 480 or 487 => CallOutcome.NoAnswer,
        _ => CallOutcome.Failed,
    };
}

/// <summary>Log lines about the call journal written by the switch (event IDs 6201–6209).</summary>
internal static partial class JournalLog
{
    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "Call {Call}: {Caller} dialled {Number}, which nothing routes ({Reason}); refused with 404")]
    public static partial void NotFound(ILogger log, string call, string caller, string number, string reason);
}
