using System.Net;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Transport;

namespace Switchboard.Switch;

/// <summary>
/// The switch's log lines about calls (event IDs 6001–6199, stable: filters and alerting may rely on them). Each
/// argument is one field (call id, device, code), never a pre-built piece of the sentence.
/// </summary>
internal static partial class SwitchLog
{
    // 6001–6019: the switch itself.
    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "SIP switch listening on {EndPoint} (UDP+TCP), TLS on {Tls}, realm {Realm}, devices {Devices}")]
    public static partial void Listening(ILogger log, IPEndPoint endPoint, object tls, string realm, string devices);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Error, Message = "SIP {Method} {SipCallId} from {Source} failed")]
    public static partial void RequestFailed(ILogger log, Exception ex, string method, string sipCallId, SipEndPoint source);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Error, Message = "A call operation that had already been accepted failed")]
    public static partial void OperationFailed(ILogger log, Exception ex);

    // 6020–6059: calls dialled on phones, and their legs.
    [LoggerMessage(EventId = 6020, Level = LogLevel.Information, Message = "Call {Call}: {Caller} -> {Target} ({Cause})")]
    public static partial void CallRouted(ILogger log, string call, string caller, string target, string? cause);

    [LoggerMessage(EventId = 6021, Level = LogLevel.Information, Message = "{Caller} dialled {Number}: no such extension (404)")]
    public static partial void UnknownNumberDialled(ILogger log, string caller, string number);

    [LoggerMessage(EventId = 6022, Level = LogLevel.Information, Message = "Call {Call}: caller {Caller} cancelled")]
    public static partial void CallerCancelled(ILogger log, string call, string caller);

    [LoggerMessage(EventId = 6023, Level = LogLevel.Information, Message = "Call {Call}: {Callee} answered")]
    public static partial void Answered(ILogger log, string call, string callee);

    [LoggerMessage(EventId = 6024, Level = LogLevel.Information, Message = "Call {Call}: {Callee} answered {Code} {Reason}")]
    public static partial void CalleeRefused(ILogger log, string call, string callee, int code, string reason);

    [LoggerMessage(EventId = 6025, Level = LogLevel.Information, Message = "Call {Call}: no answer from {Callee} within {Timeout}")]
    public static partial void NoAnswer(ILogger log, string call, string? callee, TimeSpan timeout);

    [LoggerMessage(EventId = 6026, Level = LogLevel.Information, Message = "Call {Call}: {Device} hung up")]
    public static partial void HungUp(ILogger log, string call, string device);

    [LoggerMessage(EventId = 6027, Level = LogLevel.Warning, Message = "Call {Call}: {Device} answered without G.711 audio")]
    public static partial void NoUsableAudio(ILogger log, string call, string device);

    // 6060–6079: MakeCall.
    [LoggerMessage(EventId = 6060, Level = LogLevel.Information, Message = "MakeCall {Call}: ringing {Device} first, then {Destination}")]
    public static partial void MakeCallStarted(ILogger log, string call, string device, string destination);

    [LoggerMessage(EventId = 6061, Level = LogLevel.Information, Message = "MakeCall {Call}: {Device} did not answer ({Code})")]
    public static partial void MakeCallCallerDidNotAnswer(ILogger log, string call, string device, int code);

    [LoggerMessage(EventId = 6062, Level = LogLevel.Information, Message = "MakeCall {Call}: {Caller} and {Callee} connected ({Via})")]
    public static partial void ThirdPartyConnected(ILogger log, string call, string caller, string callee, string via);

    [LoggerMessage(EventId = 6063, Level = LogLevel.Warning, Message = "MakeCall {Call}: {Caller} refused the destination's media")]
    public static partial void MediaRefused(ILogger log, string call, string caller);

    // 6080–6099: hold, re-INVITEs, DTMF.
    [LoggerMessage(EventId = 6080, Level = LogLevel.Information, Message = "Call {Call}: {Device} answered the offer to resume with {Direction}; the phone keeps the call on hold")]
    public static partial void PhoneKeepsHold(ILogger log, string call, string device, string direction);

    [LoggerMessage(EventId = 6081, Level = LogLevel.Information, Message = "re-INVITE to {Device} crossed one from the phone (491); retrying in {Wait}")]
    public static partial void Glare(ILogger log, string device, TimeSpan wait);

    [LoggerMessage(EventId = 6084, Level = LogLevel.Information, Message = "Call {Call}: {Device} sent a re-INVITE while its previous one is still being answered: 500, retry after {Seconds} s")]
    public static partial void ReinviteWhilePending(ILogger log, string call, string device, int seconds);

    [LoggerMessage(EventId = 6082, Level = LogLevel.Warning, Message = "re-INVITE to {Device} answered {Code} {Reason}")]
    public static partial void ReinviteRefused(ILogger log, string device, int code, string reason);

    [LoggerMessage(EventId = 6083, Level = LogLevel.Information, Message = "Call {Call}: digits {Digits} from {Device} sent as RFC 4733 telephone-events to {Count} phones")]
    public static partial void DtmfSent(ILogger log, string call, string device, string digits, int count);

    // 6100–6119: transfer, conference, REFER, answer.
    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Transfer: {Device} joined {A} and {B} in call {Call}")]
    public static partial void Transferred(ILogger log, string call, string device, string a, string b);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Conference {Call}: {A}, {B} and {C} mixed by the switch")]
    public static partial void Conferenced(ILogger log, string call, string a, string b, string c);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "REFER from {Device} to {Target} done ({Code}): {Result}")]
    public static partial void ReferDone(ILogger log, string device, string target, int code, string result);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Information, Message = "Phone {Device} accepts NOTIFY talk: Answer will use it")]
    public static partial void LearnedTalk(ILogger log, string device);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "Phone {Device} refused NOTIFY talk: {Code} {Reason}")]
    public static partial void TalkRefused(ILogger log, string device, int code, string reason);

    // 6120–6149: trunks.
    [LoggerMessage(EventId = 6120, Level = LogLevel.Information, Message = "Trunk {Trunk}: upstream {Upstream}, prefixes {Prefixes}, format {Format}, DIDs {Dids}")]
    public static partial void TrunkConfigured(ILogger log, string trunk, SipEndPoint upstream, string prefixes, string format, string dids);

    [LoggerMessage(EventId = 6121, Level = LogLevel.Warning, Message = "Outside call {Device} -> {Number} refused: {Rule}")]
    public static partial void OutsideCallRefused(ILogger log, string device, string number, string rule);

    [LoggerMessage(EventId = 6122, Level = LogLevel.Information, Message = "Call {Call}: {Caller} -> {Number} via trunk {Trunk} ({Detail})")]
    public static partial void TrunkCallOut(ILogger log, string call, string caller, string number, string trunk, string detail);

    [LoggerMessage(EventId = 6123, Level = LogLevel.Warning, Message = "Call {Call}: trunk {Trunk} refused the credentials of {User} ({Code})")]
    public static partial void TrunkRefusedCredentials(ILogger log, string call, string trunk, string user, int code);

    [LoggerMessage(EventId = 6124, Level = LogLevel.Warning, Message = "Call {Call}: trunk {Trunk} challenged with no usable digest algorithm")]
    public static partial void TrunkChallengeUnusable(ILogger log, string call, string trunk);

    [LoggerMessage(EventId = 6125, Level = LogLevel.Information, Message = "Trunk {Trunk}: call to {Number} from {Source}: no such DID")]
    public static partial void TrunkNoSuchDid(ILogger log, string trunk, string number, SipEndPoint source);

    [LoggerMessage(EventId = 6127, Level = LogLevel.Information, Message = "Trunk {Trunk}: registered for {Granted} s, refresh in {Refresh}")]
    public static partial void TrunkRegistered(ILogger log, string trunk, int granted, TimeSpan refresh);

    [LoggerMessage(EventId = 6128, Level = LogLevel.Warning, Message = "Trunk {Trunk}: registration failed ({Why}); retry {Count} in {Wait}")]
    public static partial void TrunkRegistrationFailed(ILogger log, string trunk, string why, int count, TimeSpan wait);

    [LoggerMessage(EventId = 6129, Level = LogLevel.Debug, Message = "Trunk {Trunk}: unregistering failed: {Error}")]
    public static partial void TrunkUnregisterFailed(ILogger log, string trunk, string error);

    // 6150–6169: registrar.
    [LoggerMessage(EventId = 6150, Level = LogLevel.Warning, Message = "REGISTER for {To} by authenticated user {User} from {Source} refused")]
    public static partial void RegisterForOtherRefused(ILogger log, string? to, string user, SipEndPoint source);

    [LoggerMessage(EventId = 6151, Level = LogLevel.Information, Message = "{Device} unregistered all contacts")]
    public static partial void UnregisteredAll(ILogger log, string device);

    [LoggerMessage(EventId = 6152, Level = LogLevel.Information, Message = "{Device} unregistered {Contact}")]
    public static partial void Unregistered(ILogger log, string device, string contact);

    [LoggerMessage(EventId = 6126, Level = LogLevel.Information, Message = "Call {Call}: {Caller} via trunk {Trunk} -> group {Members}, ringing {Targets}")]
    public static partial void GroupCall(ILogger log, string call, string caller, string trunk, string members, string targets);
}
