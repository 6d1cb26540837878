using Microsoft.Extensions.Logging;

namespace Switchboard.Asterisk.Ami;

/// <summary>The AMI client's log lines (event IDs 3040-3059).</summary>
public sealed partial class AmiClient
{
    [LoggerMessage(EventId = 3040, Level = LogLevel.Error, Message = "AMI login to {Host}:{Port} as {User} refused: {Message}")]
    private static partial void LogLoginRefused(ILogger log, string host, int port, string user, string message);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Warning, Message = "AMI connection to {Host}:{Port} failed: {Message}")]
    private static partial void LogConnectFailed(ILogger log, string host, int port, string message);

    [LoggerMessage(EventId = 3042, Level = LogLevel.Information, Message = "AMI reconnect in {Delay} ms")]
    private static partial void LogReconnectIn(ILogger log, int delay);

    [LoggerMessage(EventId = 3043, Level = LogLevel.Information, Message = "AMI logged in to {Host}:{Port} as {User} ({Banner})")]
    private static partial void LogLoggedIn(ILogger log, string host, int port, string user, string? banner);

    [LoggerMessage(EventId = 3044, Level = LogLevel.Debug, Message = "AMI -> {Action} {ActionId}")]
    private static partial void LogActionSent(ILogger log, string action, string actionId);

    [LoggerMessage(EventId = 3045, Level = LogLevel.Debug, Message = "AMI Logoff not answered: {Message}")]
    private static partial void LogLogoffUnanswered(ILogger log, string message);

    [LoggerMessage(EventId = 3046, Level = LogLevel.Error, Message = "AMI protocol error, closing the connection: {Message}")]
    private static partial void LogProtocolError(ILogger log, string message);

    [LoggerMessage(EventId = 3047, Level = LogLevel.Debug, Message = "AMI response without a waiting action: {ActionId}")]
    private static partial void LogUnexpectedResponse(ILogger log, string? actionId);

    [LoggerMessage(EventId = 3048, Level = LogLevel.Warning, Message = "AMI list {ActionId} has more than {Max} items; the rest is dropped")]
    private static partial void LogListTooLong(ILogger log, string actionId, int max);

    [LoggerMessage(EventId = 3049, Level = LogLevel.Error, Message = "AMI event handler failed on {Event}")]
    private static partial void LogEventHandlerFailed(ILogger log, Exception exception, string @event);

    [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "AMI keep-alive failed ({Message}); reconnecting")]
    private static partial void LogKeepAliveFailed(ILogger log, string message);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Warning, Message = "AMI connection to {Host}:{Port} lost")]
    private static partial void LogConnectionLost(ILogger log, string host, int port);

    [LoggerMessage(EventId = 3052, Level = LogLevel.Error, Message = "AMI disconnect handler failed")]
    private static partial void LogDisconnectHandlerFailed(ILogger log, Exception exception);
}
