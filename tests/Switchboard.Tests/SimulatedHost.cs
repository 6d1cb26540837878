using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Switchboard.Tests;

/// <summary>
/// The real host in process on the simulated phone system, every port chosen by the system on loopback and every file
/// in <c>dir</c>; <c>extra</c> settings are added on top (or replace these).
/// </summary>
internal static class SimulatedHost
{
    public static async Task<IHost> StartAsync(string dir, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["PhoneSystem"] = "simulated",
            ["IpInterface:Port"] = "0",
            ["IpInterface:ListenAddress"] = "127.0.0.1",
            ["CtiServer:Port"] = "0",
            ["CtiServer:ListenAddress"] = "127.0.0.1",
            ["Database"] = Path.Combine(dir, "sb.db"),
            ["DialFiles:Directory"] = Path.Combine(dir, "dial"),
            ["ExtensionMap"] = dir,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) settings[key] = value;
        var host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(settings));
        await host.StartAsync();
        return host;
    }
}
