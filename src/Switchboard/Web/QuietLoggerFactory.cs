using Microsoft.Extensions.Logging;

namespace Switchboard.Web;

/// <summary>
/// The host's loggers for the web application, with ASP.NET Core's data-protection chatter held to errors: it reports
/// every key it creates and warns that keys are stored unencrypted, which is by design here (an owner-only directory
/// beside the accounts file, like the SIP passwords' file).
/// </summary>
internal sealed class QuietLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("Microsoft.AspNetCore.DataProtection", StringComparison.Ordinal)
            ? new AtLeast(inner.CreateLogger(categoryName), LogLevel.Error)
            : inner.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The host owns the inner factory and disposes it.
    public void Dispose()
    {
    }

    private sealed class AtLeast(ILogger inner, LogLevel min) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= min && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= min) inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
