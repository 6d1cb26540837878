using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Interface;
using Switchboard.Switch;

namespace Switchboard.EndToEnd;

/// <summary>Switchboard with the built-in SIP switch, in-process, on ports picked by the system.</summary>
public sealed class SwitchboardServer : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string _dir;

    private SwitchboardServer(IHost host, string dir)
    {
        _host = host;
        _dir = dir;
    }

    public SipSwitch Switch => _host.Services.GetRequiredService<SipSwitch>();

    public int SipPort => Switch.LocalEndPoint.Port;

    public int CommandPort => _host.Services.GetRequiredService<IpInterfaceServer>().LocalEndPoint.Port;

    /// <summary>The account line of baresip for an extension registered to this switch.</summary>
    public string Account(string extension, string? password = null, string answerMode = "manual") => AccountAt(extension, "127.0.0.1", password, answerMode);

    /// <summary>The account line of a phone that reaches this switch at <paramref name="serverAddress"/>.</summary>
    public string AccountAt(string extension, string serverAddress, string? password = null, string answerMode = "manual") =>
        $"<sip:{extension}@{serverAddress}:{SipPort}>;auth_pass={password ?? Switch.PasswordOf(extension)};answermode={answerMode};regint=600";

    public static Task<SwitchboardServer> StartAsync(string dir, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["PhoneSystem"] = "sip",
            ["Sip:Port"] = "0",
            ["Sip:ListenAddress"] = "127.0.0.1",
            ["IpInterface:Port"] = "0",
            ["IpInterface:ListenAddress"] = "127.0.0.1",
            ["CtiServer:Enabled"] = "false",
            ["Database"] = Path.Combine(dir, "sb.db"),
            ["DialFiles:Enabled"] = "false",
            ["ExtensionMap"] = dir,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return StartWithAsync(dir, settings);
    }

    /// <summary>
    /// The server as a new user starts it: the built-in defaults (SIP on 0.0.0.0, no advertised address, no media
    /// setting), only ports picked by the system, files in <paramref name="dir"/>, and the CTI server port off
    /// (with IpInterface:Port=0 it would be "equal" and refused).
    /// </summary>
    public static Task<SwitchboardServer> StartOnDefaultsAsync(string dir, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Sip:Port"] = "0",
            ["IpInterface:Port"] = "0",
            ["CtiServer:Enabled"] = "false",
            ["Database"] = Path.Combine(dir, "sb.db"),
            ["DialFiles:Directory"] = Path.Combine(dir, "dial"),
            ["ExtensionMap"] = dir,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return StartWithAsync(dir, settings);
    }

    private static async Task<SwitchboardServer> StartWithAsync(string dir, Dictionary<string, string?> settings)
    {
        var host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(settings));
        await host.StartAsync();
        return new SwitchboardServer(host, dir);
    }

    /// <summary>Waits until the devices show as reachable (registered).</summary>
    public async Task WaitRegisteredAsync(params string[] devices)
    {
        for (int i = 0; i < 100 && !devices.All(Switch.Model.IsReachable); i++) await Task.Delay(100);
        Assert.All(devices, d => Assert.True(Switch.Model.IsReachable(d), $"{d} did not register"));
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        _ = _dir;
    }
}
