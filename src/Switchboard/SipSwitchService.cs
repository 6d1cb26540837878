using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.Switch;

namespace Switchboard;

/// <summary>Opens the SIP port of the built-in switch and shows passwords generated at this start, once.</summary>
internal sealed class SipSwitchService(SipSwitch sw, ILogger<SipSwitchService> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            sw.Start();
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new StartupException($"the SIP switch cannot listen on its ports (Sip:Port, Sip:TlsPort, Sip:ListenAddress): {ex.Message}");
        }
        if (sw.CreatedPasswords.Count > 0)
        {
            // Shown once: afterwards they live only in the database (table secrets); see README "SIP phones".
            log.LogWarning("New SIP passwords generated, shown only now. Register phones as <extension>@<this host>:{Port}", sw.LocalEndPoint.Port);
            foreach (var (device, password) in sw.CreatedPasswords.OrderBy(p => p.Key, StringComparer.Ordinal))
                log.LogWarning("  extension {Device}: password {Password}", device, password);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await sw.DisposeAsync();
}
