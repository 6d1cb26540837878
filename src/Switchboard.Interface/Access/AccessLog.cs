using Microsoft.Extensions.Logging;

namespace Switchboard.Interface.Access;

/// <summary>Log lines of the IP port's cross-site request forgery checks (event IDs 2531–2549).</summary>
internal static partial class AccessLog
{
    [LoggerMessage(EventId = 2531, Level = LogLevel.Warning, Message = "403 HTTP command from {Remote} refused ({Rule}): {Text}")]
    public static partial void CrossSiteRefused(ILogger log, string remote, string rule, string text);

    [LoggerMessage(EventId = 2532, Level = LogLevel.Debug, Message = "Private Network Access preflight from {Remote} for origin {Origin}: allowed")]
    public static partial void PrivateNetworkAllowed(ILogger log, string remote, string origin);

    [LoggerMessage(EventId = 2533, Level = LogLevel.Information, Message = "Private Network Access preflight from {Remote} for origin {Origin}: refused, origin not in Access:AllowedOrigins")]
    public static partial void PrivateNetworkRefused(ILogger log, string remote, string origin);

    [LoggerMessage(EventId = 2534, Level = LogLevel.Warning, Message = "Access:AllowedOrigins is empty: a page on any web site can make a visitor's browser send commands to the IP interface's HTTP (set it to the origins of your CRM pages)")]
    public static partial void OpenToAllOrigins(ILogger log);
}
