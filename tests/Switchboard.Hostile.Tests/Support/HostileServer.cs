using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.Interface;
using Switchboard.Switch;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>
/// The real server in process (SwitchboardHost, built-in SIP switch), on ports the system picks, in its own temporary
/// directory, with every log entry captured.
/// </summary>
internal sealed class HostileServer : IAsyncDisposable
{
    private readonly IHost _host;

    private HostileServer(IHost host, string dir, CapturingLoggerProvider logs)
    {
        _host = host;
        Directory = dir;
        Logs = logs;
    }

    public string Directory { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => _host.Services;

    public SipSwitch Switch => _host.Services.GetRequiredService<SipSwitch>();

    public int SipPort => Switch.LocalEndPoint.Port;

    public int CommandPort => _host.Services.GetRequiredService<IpInterfaceServer>().LocalEndPoint.Port;

    /// <summary>The directory the server reads FCTIIPEX.INI from (kept apart from the database, whose writes would wake its watcher).</summary>
    public string IniDirectory => Path.Combine(Directory, "ini");

    public static async Task<HostileServer> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sb-hostile-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "ini"));
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "db"));
        var settings = new Dictionary<string, string?>
        {
            ["PhoneSystem"] = "sip",
            ["Sip:Port"] = "0",
            ["Sip:ListenAddress"] = "127.0.0.1",
            ["IpInterface:Port"] = "0",
            ["IpInterface:ListenAddress"] = "127.0.0.1",
            ["CtiServer:Enabled"] = "false",
            ["Database"] = Path.Combine(dir, "db", "sb.db"),
            ["DialFiles:Enabled"] = "false",
            ["ExtensionMap"] = Path.Combine(dir, "ini"),
            // Production logs at Information; the console stays quiet so the test output is the assertions.
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:Console:LogLevel:Default"] = "None",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(settings));
        var logs = new CapturingLoggerProvider();
        host.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await host.StartAsync();
        return new HostileServer(host, dir, logs);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
