using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.Switch;

namespace Switchboard;

/// <summary>Opens the SIP port of the built-in switch and shows the passwords no phone has registered with yet.</summary>
internal sealed partial class SipSwitchService(SipSwitch sw, ILogger<SipSwitchService> log) : IHostedService
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
        // Shown at every start until the extension registers with it (and by `switchboard ctl passwords`): a start
        // that fails after generating them loses nothing.
        var pending = sw.Secrets.Pending();
        if (pending.Count > 0)
        {
            PendingHeader(log, sw.LocalEndPoint.Port);
            foreach (var (device, password) in pending.OrderBy(p => p.Key, StringComparer.Ordinal)) Pending(log, device, password);
        }
        foreach (var device in sw.Secrets.OtherRealm) OtherRealm(log, device, sw.Secrets.Realm);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await sw.DisposeAsync();

    [LoggerMessage(EventId = 1040, Level = LogLevel.Warning,
        Message = "SIP passwords not yet used, shown until each phone registers (also: switchboard ctl passwords). Register phones as <extension>@<this host>:{Port}")]
    private static partial void PendingHeader(ILogger log, int port);

    [LoggerMessage(EventId = 1041, Level = LogLevel.Warning, Message = "  extension {Device}: password {Password}")]
    private static partial void Pending(ILogger log, string device, string password);

    [LoggerMessage(EventId = 1042, Level = LogLevel.Warning,
        Message = "Extension {Device}: its stored password is for another realm than {Realm} (Sip:Realm changed) and cannot log in; give it a new one with: switchboard ctl passwords {Device} --reset")]
    private static partial void OtherRealm(ILogger log, string device, string realm);
}
