using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Interface;
using Switchboard.Switch;

namespace Switchboard.Operations;

/// <summary>One line once everything is up: the version, ports, phone system and database, what an operator checks first.</summary>
internal sealed partial class StartupReport(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<StartupReport> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // The instruments exist from the start, so the first scrape already lists every series.
        services.GetRequiredService<SwitchboardMetrics>();
        lifetime.ApplicationStarted.Register(Report);
        return Task.CompletedTask;
    }

    private void Report()
    {
        var options = services.GetRequiredService<IOptions<SwitchboardOptions>>().Value;
        var sip = services.GetService<SipSwitch>() is { } sw ? sw.LocalEndPoint.ToString() : "-";
        var ip = services.GetService<IpInterfaceServer>()?.LocalEndPoint.ToString() ?? "-";
        var web = services.GetService<Web.CtiWebServer>() is { } w ? w.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "off";
        var control = services.GetService<ControlService>()?.SocketPath ?? "off";
        Started(log, ControlCommands.Version, options.PhoneSystem.ToLowerInvariant(), sip, ip, web, control, Path.GetFullPath(options.Database));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information,
        Message = "Switchboard {Version} started: phone system {PhoneSystem}, SIP {Sip}, IP interface {IpInterface}, CTI server port {CtiPort}, control socket {Control}, database {Database}")]
    private static partial void Started(ILogger log, string version, string phoneSystem, string sip, string ipInterface, string ctiPort, string control, string database);
}
