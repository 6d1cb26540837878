using System.Net;
using Switchboard.Sip.Transport;
using Switchboard.Storage;
using Switchboard.Telephony;
using Switchboard.Testing.Phones;

namespace Switchboard.Switch.Tests.InMemory;

/// <summary>
/// A real SipSwitch (and real SQLite journal) whose SIP runs over an <see cref="InMemorySipNetwork"/>: no SIP ports, so
/// these tests run in parallel with anything. Media still uses real RTP sockets on loopback.
/// </summary>
internal sealed class InMemorySwitch : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-inmem-").FullName;
    private readonly List<RawPhone> _phones = [];

    public InMemorySwitch(TimeProvider? time = null)
    {
        Store = new SqliteStore(Path.Combine(_dir, "sb.db"));
        // The port is not used: SIP goes over the in-memory network.
        var options = SwitchFixture.TestOptions();
        Model = new CallModel(options.Devices, new CallEventHub(), Store, Store, time);
        Transport = new InMemorySipTransport(Network, Address);
        Switch = new SipSwitch(options, Model, Store, Store, time, transport: Transport);
        Switch.Start();
    }

    /// <summary>Where the switch is on the in-memory network.</summary>
    public static IPEndPoint Address { get; } = new(IPAddress.Loopback, 5060);

    public InMemorySipNetwork Network { get; } = new();

    public InMemorySipTransport Transport { get; }

    public SqliteStore Store { get; }

    public CallModel Model { get; }

    public SipSwitch Switch { get; }

    /// <summary>A registered raw phone for <paramref name="device"/> at its own address on the network.</summary>
    public async Task<RawPhone> PhoneAsync(string device)
    {
        var phone = RawPhone.InMemory(Network, $"127.0.1.{device[^1..]}", device, "pw" + device, Address);
        _phones.Add(phone);
        var registered = await phone.RegisterAsync();
        if (registered.StatusCode != 200) throw new InvalidOperationException($"{device} did not register: {registered.StatusCode} {registered.Reason}");
        return phone;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _phones) await p.DisposeAsync();
        await Switch.DisposeAsync();
        Store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
