namespace Switchboard.Operations;

/// <summary>Log levels an administrator wants without configuring anything.</summary>
internal static class LogDefaults
{
    /// <summary>Configuration defaults, added before every other source so each can be overridden.</summary>
    public static readonly KeyValuePair<string, string?>[] Settings =
    [
        new("Logging:LogLevel:Default", "Information"),
        // One line per HTTP request (an open dashboard polls) drowned the telephony log: warnings only.
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
        // The host's own "Hosting failed to start" repeats a start-up error with its stack trace before the one clear
        // line; that line is written by the command line, the stack trace at debug by StartupFailure.
        new("Logging:LogLevel:Microsoft.Extensions.Hosting.Internal.Host", "Critical"),
        // Hosting environment and content root are noise for a service; "Application started" is kept (once).
        new("Logging:LogLevel:Microsoft.Hosting.Lifetime", "Information"),
    ];
}
