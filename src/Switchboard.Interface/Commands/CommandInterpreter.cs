using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Diagnostics;
using Switchboard.Interface.Access;
using Switchboard.Interface.Extensions;
using Switchboard.Telephony;

namespace Switchboard.Interface.Commands;

/// <summary>
/// The one command interpreter behind every front end: parses a line, applies access rules and NNNNN, calls the
/// call-control interface and turns the outcome into exactly one reply.
/// </summary>
public sealed partial class CommandInterpreter : IDisposable
{
    private readonly ICallControl _callControl;
    private readonly AccessPolicy _access;
    private readonly ExtensionMap? _extensions;
    private readonly ILogger _log;
    private readonly LogThrottle _throttle;

    /// <summary>Creates the interpreter.</summary>
    public CommandInterpreter(ICallControl callControl, AccessPolicy access, ExtensionMap? extensions = null, ILogger<CommandInterpreter>? log = null)
    {
        _callControl = callControl;
        _access = access;
        _extensions = extensions;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _throttle = new LogThrottle(_log);
    }

    /// <summary>The access policy in force.</summary>
    public AccessPolicy Access => _access;

    /// <summary>The phone system commands go to.</summary>
    public ICallControl CallControl => _callControl;

    /// <summary>Tells outside numbers from extensions for Access:OutsideCallClients; should match the phone system's own dial plan.</summary>
    public DialPlan DialPlan { get; init; } = new();

    /// <summary>Executes one command line and returns its reply. Never throws for bad input or phone-system faults.</summary>
    public async ValueTask<CallControlResult> ExecuteAsync(string line, ClientContext client, CancellationToken cancellationToken = default)
    {
        try
        {
            return InterfaceMetrics.Counted(client.FrontEnd, await ExecuteCoreAsync(line, client, cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "500 for a command from {Client}: interpreter failed", Who(client));
            return CallControlResult.Fail(ReplyCode.InternalError, $"internal error ({ex.GetType().Name}); details are in the server log");
        }
    }

    private async ValueTask<CallControlResult> ExecuteCoreAsync(string line, ClientContext client, CancellationToken cancellationToken)
    {
        if (!CommandParser.TryParse(line, out var parsed, out var error))
        {
            // The reply tells the client; the log needs only a sample and a count, or a garbage flood fills the disk.
            // Dial files have no client address; their lines share one sample (each reply is in failed/NAME.log too).
            if (_throttle.Allow("bad command lines", client.Address ?? IPAddress.None))
                LogBadLine(_log, Who(client), client.FrontEnd, LogText.Escape(error));
            return CallControlResult.Fail(ReplyCode.BadRequest, error);
        }
        var command = parsed!;
        if (_access.CheckClient(client.Address) is { } refusedClient)
        {
            if (_throttle.Allow("commands from clients not in Access:AllowedClients", client.Address!))
                LogRefusedClient(_log, command.Verb, Who(client), refusedClient);
            return CallControlResult.Fail(ReplyCode.Forbidden, $"{command.Verb}: {refusedClient}");
        }
        if (client.FrontEnd == FrontEndKind.Http && _access.CheckOrigin(client.Origin) is { } refusedOrigin)
        {
            _log.LogWarning("403 {Verb} from {Client}: {Rule}", command.Verb, Who(client), refusedOrigin);
            return CallControlResult.Fail(ReplyCode.Forbidden, $"{command.Verb}: {refusedOrigin}");
        }

        var own = client.Address is null ? null : _extensions?.Lookup(client.Address);
        var device = command.Device;
        var argument = command.Argument;
        if (command.DeviceIsPlaceholder || command.ArgumentIsPlaceholder)
        {
            if (own is null)
            {
                var why = client.Address is null
                    ? "NNNNN cannot be used here: a dial file has no client address"
                    : $"NNNNN: no extension mapped to {Display(client.Address)} in FCTIIPEX.INI";
                return CallControlResult.Fail(ReplyCode.NotFound, $"{command.Verb}: {why}");
            }
            if (command.DeviceIsPlaceholder) device = own;
            if (command.ArgumentIsPlaceholder) argument = own;
        }
        if (_access.Options.RestrictMappedClientsToOwnExtension && own is not null && device != own && device != "*")
        {
            var rule = $"client {Display(client.Address!)} may control only its own extension {own} (Access:RestrictMappedClientsToOwnExtension)";
            _log.LogWarning("403 {Verb} {Device}: {Rule}", command.Verb, device, rule);
            return CallControlResult.Fail(ReplyCode.Forbidden, $"{command.Verb} {device}: {rule}");
        }
        if (OutsideTarget(command.Verb, argument) is { } number && _access.CheckOutsideCall(client.Address) is { } refusedOutside
            && DialPlan.Classify(number, _callControl.Devices.Contains) == NumberKind.Outside)
        {
            _log.LogWarning("403 {Verb} {Device} {Number} from {Client}: {Rule}", command.Verb, device, number, Who(client), refusedOutside);
            return CallControlResult.Fail(ReplyCode.Forbidden, $"{command.Verb} {device} {number}: {refusedOutside}");
        }
        if (client.ValidateOnly) return CallControlResult.Ok($"{command.Verb} {device}: valid (not executed)");

        try
        {
            var result = await Dispatch(command.Verb, device, argument, client, cancellationToken).ConfigureAwait(false);
            if (result.Code == ReplyCode.InternalError) _log.LogError("500 {Verb} {Device}: {Message}", command.Verb, device, result.Message);
            // Accepted commands are the audit trail and always logged; refusals and failures only as a sample per
            // source, since a client in a loop (or a scanner) would otherwise write a line for every attempt.
            else if (command.Verb is not (CommandVerb.Status or CommandVerb.Monitor)
                && (result.Code == ReplyCode.Ok || _throttle.Allow("refused or failed commands", client.Address ?? IPAddress.None)))
                _log.LogInformation("{Code} {Message} (from {Client} via {FrontEnd})", (int)result.Code, result.Message, Who(client), client.FrontEnd);
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "500 {Verb} {Device} from {Client}: phone system failed", command.Verb, device, Who(client));
            return CallControlResult.Fail(ReplyCode.InternalError, $"{command.Verb} {device}: internal error in the phone system ({ex.GetType().Name}); details are in the server log");
        }
    }

    private async ValueTask<CallControlResult> Dispatch(CommandVerb verb, string device, string? argument, ClientContext client, CancellationToken ct)
    {
        var cc = _callControl;
        switch (verb)
        {
            case CommandVerb.MakeCall: return await cc.MakeCallAsync(device, argument!, ct).ConfigureAwait(false);
            case CommandVerb.Answer: return await cc.AnswerAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Drop: return await cc.DropAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Redirect: return await cc.RedirectAsync(device, argument!, ct).ConfigureAwait(false);
            case CommandVerb.Toggle: return await cc.ToggleAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Transfer: return await cc.TransferAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Conference: return await cc.ConferenceAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Pickup: return await cc.PickupAsync(device, argument!, ct).ConfigureAwait(false);
            // Extensions beyond the seed's nine (DESIGN.md §4); phone systems without them answer 501.
            case CommandVerb.Hold: return await cc.HoldAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Retrieve: return await cc.RetrieveAsync(device, ct).ConfigureAwait(false);
            case CommandVerb.Dtmf: return await cc.DtmfAsync(device, argument!, ct).ConfigureAwait(false);
            case CommandVerb.Forward:
                var setting = argument switch
                {
                    null => ForwardingSetting.Off,
                    "*" => ForwardingSetting.Dnd,
                    _ => ForwardingSetting.To(argument),
                };
                return await cc.ForwardAsync(device, setting, ct).ConfigureAwait(false);
            case CommandVerb.Status:
                if (cc.UnavailableReason is { } down && cc.Devices.Contains(device)) return CallControlResult.Fail(ReplyCode.Unavailable, $"Status {device}: {down}");
                var status = await cc.GetStatusAsync(device, ct).ConfigureAwait(false);
                return status is null
                    ? CallControlResult.Fail(ReplyCode.NotFound, $"Status {device}: unknown device {device}")
                    : CallControlResult.Ok(FormatStatus(status));
            case CommandVerb.Monitor:
                if (client.Monitor is null)
                    return CallControlResult.Fail(ReplyCode.NotImplemented, $"Monitor {device}: events need a TCP connection (or the WebSocket on the CTI server port)");
                if (device != "*" && !cc.Devices.Contains(device))
                    return CallControlResult.Fail(ReplyCode.NotFound, $"Monitor {device}: unknown device {device}");
                long? after = argument is null ? null : long.Parse(argument, CultureInfo.InvariantCulture);
                return client.Monitor(device, after);
            default:
                return CallControlResult.Fail(ReplyCode.BadRequest, $"unsupported command {verb}");
        }
    }

    // Pickup's argument is a device whose call is taken over, never a number to dial; "*" of Forward is do-not-disturb.
    private static string? OutsideTarget(CommandVerb verb, string? argument) => verb switch
    {
        CommandVerb.MakeCall or CommandVerb.Redirect => argument,
        CommandVerb.Forward when argument is not (null or "*") => argument,
        _ => null,
    };

    /// <summary>Writes the summaries of log lines left out so far.</summary>
    public void Dispose() => _throttle.Dispose();

    /// <summary>The one-line text of a Status reply.</summary>
    public static string FormatStatus(DeviceStatus status)
    {
        var sb = new StringBuilder(64);
        sb.Append("Status ").Append(status.Device).Append(": ");
        sb.Append(status.Reachable ? "reachable" : "unreachable");
        sb.Append("; ").Append(status.Forwarding.ToString());
        if (status.Connections.Count == 0)
        {
            sb.Append("; idle");
        }
        else
        {
            sb.Append("; calls:");
            foreach (var c in status.Connections)
            {
                sb.Append(' ').Append(c.CallId).Append('=').Append(c.State.ToWire());
                if (c.Partners.Count > 0) sb.Append(":").AppendJoin('+', c.Partners);
            }
        }
        // Appended last, and without '=' (which marks a call in the list above), so clients that read the reply as
        // before are not misled.
        if (status.RegisteredFrom is { Length: > 0 } from) sb.Append("; registered from ").Append(from);
        return sb.ToString();
    }

    private static string Who(ClientContext c) => c.Address is null ? "dial file" : Display(c.Address);

    private static string Display(System.Net.IPAddress a) => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString();

    [LoggerMessage(EventId = 2521, Level = LogLevel.Information, Message = "400 from {Client} ({FrontEnd}): {Error}")]
    private static partial void LogBadLine(ILogger log, string client, FrontEndKind frontEnd, string error);

    [LoggerMessage(EventId = 2522, Level = LogLevel.Warning, Message = "403 {Verb} from {Client}: {Rule}")]
    private static partial void LogRefusedClient(ILogger log, CommandVerb verb, string client, string rule);
}
