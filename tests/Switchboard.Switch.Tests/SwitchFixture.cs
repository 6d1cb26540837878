using Switchboard.Storage;
using Switchboard.Telephony;

namespace Switchboard.Switch.Tests;

/// <summary>A real SipSwitch on a loopback port with short SIP timers (T1 = 100 ms, so 64*T1 = 6.4 s) and known passwords.</summary>
internal sealed class SwitchFixture : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-switch-").FullName;
    private readonly SqliteStore _store;

    public SwitchFixture(int authFreeFailures = 5, Action<SwitchOptions>? configure = null, Microsoft.Extensions.Logging.ILogger<SipSwitch>? log = null,
        Func<ICallJournal, ICallJournal>? journal = null)
    {
        _store = new SqliteStore(Path.Combine(_dir, "sb.db"));
        var options = TestOptions();
        options.AuthFreeFailures = authFreeFailures;
        configure?.Invoke(options);
        Model = new CallModel(options.Devices, new CallEventHub(), _store, journal is null ? _store : journal(_store));
        Switch = new SipSwitch(options, Model, _store, _store, log: log);
        Switch.Start();
    }

    /// <summary>What every switch of these tests starts from: loopback, a port the system picks, T1 = 100 ms, known passwords.</summary>
    internal static SwitchOptions TestOptions() => new()
    {
        ListenAddress = "127.0.0.1",
        Port = 0,
        T1Milliseconds = 100,
        RingTimeout = TimeSpan.FromSeconds(30),
        Passwords = new() { ["100"] = "pw100", ["101"] = "pw101", ["102"] = "pw102" },
    };

    public SipSwitch Switch { get; }

    public CallModel Model { get; }

    public string Remote => $"127.0.0.1:{Switch.LocalEndPoint.Port}";

    public async ValueTask DisposeAsync()
    {
        await Switch.DisposeAsync();
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
