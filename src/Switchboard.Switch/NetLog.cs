using Microsoft.Extensions.Logging;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Registrar;

namespace Switchboard.Switch;

/// <summary>Log lines about where phones are and how they are reached (event IDs 4201–4209).</summary>
internal static partial class NetLog
{
    [LoggerMessage(EventId = 4201, Level = LogLevel.Information,
        Message = "{Device} registered {Contact} from {Source} over {Transport} for {Expires} s; reached at {Flow}; NAT detected: {Nat} ({Reason})")]
    public static partial void Registered(ILogger log, string device, string contact, SipEndPoint source, SipProtocol transport, SipEndPoint flow, string nat,
        FlowReason reason, int expires);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning,
        Message = "{Device} registered Contact {Contact} from {Source}, which nobody can send to; the phone is reached at the flow it registered from")]
    public static partial void UnroutableContact(ILogger log, string device, string contact, SipEndPoint source);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Information,
        Message = "{Device} moved: binding {Contact} from {OldSource} replaced by the registration from {NewSource}")]
    public static partial void BindingReplaced(ILogger log, string device, string contact, string oldSource, SipEndPoint newSource);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Warning,
        Message = "{Device} did not answer {Count} keepalive pings at {Flow}; shown unreachable")]
    public static partial void PhoneUnreachable(ILogger log, string device, int count, SipEndPoint flow);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Information, Message = "{Device} answers keepalive pings again at {Flow}; shown reachable")]
    public static partial void PhoneReachable(ILogger log, string device, SipEndPoint flow);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Information, Message = "Call {Call}: media {Where} ({Why})")]
    public static partial void MediaDecision(ILogger log, string call, string where, string why);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Debug,
        Message = "Keepalive round: {Sent} pings sent, {Skipped} skipped ({Outstanding} still unanswered from earlier rounds)")]
    public static partial void KeepAliveRound(ILogger log, int sent, int skipped, int outstanding);

    [LoggerMessage(EventId = 4208, Level = LogLevel.Warning,
        Message = "Call {Call}: anchoring wanted ({Why}) but the caller offered no G.711 audio; media stays phone to phone")]
    public static partial void AnchorImpossible(ILogger log, string call, string why);

    [LoggerMessage(EventId = 4209, Level = LogLevel.Warning,
        Message = "Call {Call}: {Callee} answered the switch's media offer without G.711 audio; the call is released (488 to the caller)")]
    public static partial void AnchoredAnswerUnusable(ILogger log, string call, string callee);
}
