using Microsoft.Extensions.Logging;

namespace Switchboard.Asterisk;

/// <summary>The connector's log lines (event IDs 3001-3039; the AMI client has 3040-3059).</summary>
public sealed partial class AsteriskPhoneSystem
{
    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "MakeCall {Device} -> {Destination}: originate queued ({ChannelId})")]
    private static partial void LogOriginateQueued(ILogger log, string device, string destination, string channelId);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "{What}: {Message}")]
    private static partial void LogActionTimeout(ILogger log, string what, string message);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Warning, Message = "{What}: Asterisk answered {Kind}: {Message}")]
    private static partial void LogActionRefused(ILogger log, string what, string kind, string message);

    [LoggerMessage(EventId = 3023, Level = LogLevel.Information, Message = "Originate for {Device} failed: Reason {Reason} ({Text})")]
    private static partial void LogOriginateFailed(ILogger log, string device, int reason, string text);

    [LoggerMessage(EventId = 3024, Level = LogLevel.Information, Message = "Device {Device} is {State}")]
    private static partial void LogDeviceState(ILogger log, string device, string state);

    [LoggerMessage(EventId = 3025, Level = LogLevel.Warning, Message = "Could not re-read the channels ({Message}); the AMI user needs write=system")]
    private static partial void LogNoChannelSnapshot(ILogger log, string message);

    [LoggerMessage(EventId = 3026, Level = LogLevel.Warning, Message = "Could not read forwarding from AstDB ({Message}); keeping the stored settings")]
    private static partial void LogNoForwarding(ILogger log, string message);

    [LoggerMessage(EventId = 3027, Level = LogLevel.Information, Message = "AMI state re-read: {Channels} channels, {Calls} calls")]
    private static partial void LogResynced(ILogger log, int channels, int calls);
}
