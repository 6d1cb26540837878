using System.Diagnostics;
using System.Globalization;
using Switchboard.Storage;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>A SipSwitch on a loopback port with one trunk to an upstream on <see cref="UpstreamPort"/> (sipp or Kamailio).</summary>
internal sealed class TrunkFixture : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-trunk-").FullName;
    private readonly SqliteStore _store;

    public TrunkFixture(Action<TrunkOptions>? trunk = null, Action<SwitchOptions>? sw = null, OutsideCallOptions? policy = null, int? upstreamPort = null)
    {
        UpstreamPort = upstreamPort ?? Ports.FreeUdp();
        Trunk = new TrunkOptions
        {
            Name = "provider",
            Host = "127.0.0.1",
            Port = UpstreamPort,
            Username = "trunkuser",
            Password = "trunkpw",
            Prefixes = ["+"],
            Dids = new() { ["+4989555100"] = "100", ["+4989555101"] = "101" },
        };
        trunk?.Invoke(Trunk);
        _store = new SqliteStore(Path.Combine(_dir, "sb.db"));
        var options = SwitchFixture.TestOptions();
        options.Trunks = [Trunk];
        sw?.Invoke(options);
        Model = new CallModel(options.Devices, new CallEventHub(), _store, _store);
        Switch = new SipSwitch(options, Model, _store, _store) { OutsidePolicy = new OutsideCallPolicy(policy ?? new OutsideCallOptions()) };
        Switch.Start();
    }

    public int UpstreamPort { get; }

    public TrunkOptions Trunk { get; }

    public SipSwitch Switch { get; }

    public CallModel Model { get; }

    public ICallJournal Journal => _store;

    public string Remote => $"127.0.0.1:{Switch.LocalEndPoint.Port}";

    public string Dir => _dir;

    public async Task RegisterPhoneAsync(string user, int contactPort)
    {
        using var run = Sipp.Start("register.xml", Ports.FreeUdp(), Remote, "-s", user, "-au", user, "-ap", "pw" + user,
            "-key", "contact_port", contactPort.ToString(CultureInfo.InvariantCulture), "-key", "expect", "200");
        var (code, output) = await run.ExitAsync();
        Assert.True(code == 0, $"register {user}: {output}");
    }

    public Task WaitForAsync(Func<bool> condition, string what, int seconds = 15) => Poll.UntilAsync(condition, what, seconds);

    public async ValueTask DisposeAsync()
    {
        await Switch.DisposeAsync();
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
