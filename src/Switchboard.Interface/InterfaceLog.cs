using Microsoft.Extensions.Logging;

namespace Switchboard.Interface;

/// <summary>Log lines of the IP interface outside the command interpreter (event IDs 6205–6249), source-generated with stable IDs.</summary>
internal static partial class InterfaceLog
{
    [LoggerMessage(EventId = 6210, Level = LogLevel.Debug, Message = "UDP receive: {Error}")]
    public static partial void UdpReceiveFailed(ILogger log, string error);

    [LoggerMessage(EventId = 6211, Level = LogLevel.Debug, Message = "UDP reply to {Remote} failed: {Error}")]
    public static partial void UdpReplyFailed(ILogger log, System.Net.EndPoint remote, string error);

    [LoggerMessage(EventId = 6215, Level = LogLevel.Warning, Message = "Cannot watch {Dir} for FCTIIPEX.INI changes ({Error}); polling only")]
    public static partial void ExtensionsNotWatched(ILogger log, string dir, string error);

    [LoggerMessage(EventId = 6216, Level = LogLevel.Warning, Message = "Cannot read FCTIIPEX.INI yet ({Error}); keeping the previous mappings")]
    public static partial void ExtensionsNotReadYet(ILogger log, string error);

    [LoggerMessage(EventId = 6217, Level = LogLevel.Error, Message = "Cannot read FCTIIPEX.INI: {Error}")]
    public static partial void ExtensionsUnreadable(ILogger log, string error);

    [LoggerMessage(EventId = 6218, Level = LogLevel.Information, Message = "FCTIIPEX.INI removed; no IP-to-extension mappings")]
    public static partial void ExtensionsRemoved(ILogger log);

    [LoggerMessage(EventId = 6219, Level = LogLevel.Information, Message = "Loaded {Count} IP-to-extension mappings from {Path}")]
    public static partial void ExtensionsLoaded(ILogger log, int count, string path);

    [LoggerMessage(EventId = 6220, Level = LogLevel.Information, Message = "HTTP client {Remote} did not send a complete request within {Timeout}; closing")]
    public static partial void HttpRequestTimedOut(ILogger log, System.Net.IPEndPoint remote, TimeSpan timeout);

    [LoggerMessage(EventId = 6221, Level = LogLevel.Information, Message = "HTTP client {Remote}: {Error}")]
    public static partial void HttpBadRequest(ILogger log, System.Net.IPEndPoint remote, string error);

    [LoggerMessage(EventId = 6225, Level = LogLevel.Debug, Message = "Connection {Remote} ended: {Error}")]
    public static partial void ConnectionEnded(ILogger log, Exception exception, System.Net.IPEndPoint remote, string error);

    [LoggerMessage(EventId = 6226, Level = LogLevel.Error, Message = "Connection {Remote} failed")]
    public static partial void ConnectionFailed(ILogger log, Exception exception, System.Net.IPEndPoint remote);

    [LoggerMessage(EventId = 6227, Level = LogLevel.Information, Message = "Closing connection from {Remote}: {Reason}")]
    public static partial void ConnectionClosing(ILogger log, System.Net.IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 6228, Level = LogLevel.Warning, Message = "Line longer than {Max} bytes from {Remote}; discarded")]
    public static partial void LineTooLong(ILogger log, int max, System.Net.IPEndPoint remote);

    [LoggerMessage(EventId = 6229, Level = LogLevel.Warning, Message = "Client {Remote} does not read its replies (nothing taken for {Timeout}); disconnecting")]
    public static partial void ClientNotReading(ILogger log, System.Net.IPEndPoint remote, TimeSpan timeout);

    [LoggerMessage(EventId = 6230, Level = LogLevel.Warning, Message = "Monitor {Device} on {Remote}: client reads events too slowly; disconnecting at sequence {Seq}")]
    public static partial void MonitorTooSlow(ILogger log, string device, System.Net.IPEndPoint remote, long seq);

    [LoggerMessage(EventId = 6235, Level = LogLevel.Warning, Message = "No change notifications for {Dir} ({Error}); scanning every {Interval}")]
    public static partial void DialFilesNotWatched(ILogger log, string dir, string error, TimeSpan interval);

    [LoggerMessage(EventId = 6236, Level = LogLevel.Information, Message = "Watching {Dir} for *.CTI dial files")]
    public static partial void DialFilesWatching(ILogger log, string dir);

    [LoggerMessage(EventId = 6237, Level = LogLevel.Error, Message = "Dial file scan of {Dir} failed; retrying")]
    public static partial void DialFileScanFailed(ILogger log, Exception exception, string dir);

    [LoggerMessage(EventId = 6238, Level = LogLevel.Warning, Message = "Dial file {File} stayed empty; moved to {Failed}")]
    public static partial void DialFileEmpty(ILogger log, string file, string failed);

    [LoggerMessage(EventId = 6239, Level = LogLevel.Warning, Message = "Dial file {File} cannot be taken yet: {Error}")]
    public static partial void DialFileNotYet(ILogger log, string file, string error);

    [LoggerMessage(EventId = 6240, Level = LogLevel.Information, Message = "Dial file {File} executed and removed")]
    public static partial void DialFileDone(ILogger log, string file);

    [LoggerMessage(EventId = 6241, Level = LogLevel.Warning, Message = "Dial file {File} had failing lines; moved to {Failed}")]
    public static partial void DialFileFailedLines(ILogger log, string file, string failed);

    [LoggerMessage(EventId = 6242, Level = LogLevel.Warning, Message = "Dial file {File} was being executed when the server stopped; moved to failed/ and not re-run (its first lines may already have run)")]
    public static partial void DialFileInterrupted(ILogger log, string file);

    [LoggerMessage(EventId = 6205, Level = LogLevel.Information, Message = "IP interface listening on {EndPoint} (TCP stream + HTTP{Udp}), phone system: {Kind}")]
    public static partial void Listening(ILogger log, System.Net.IPEndPoint endPoint, string udp, string kind);
}
