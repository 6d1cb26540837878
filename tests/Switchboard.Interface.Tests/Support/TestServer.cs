using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Interface.DialFiles;
using Switchboard.Interface.Extensions;
using Switchboard.Simulation;
using Switchboard.Telephony;

namespace Switchboard.Interface.Tests.Support;

/// <summary>What a test wants of its server; defaults give a fast simulation on a free loopback port.</summary>
public sealed class ServerConfig
{
    /// <summary>The IP interface settings (port 0 on loopback, so test classes run side by side).</summary>
    public IpInterfaceOptions Ip { get; } = new() { Port = 0, ListenAddress = "127.0.0.1" };

    /// <summary>Access rules.</summary>
    public AccessOptions Access { get; } = new();

    /// <summary>The simulated phones 100-105; outside numbers answer quickly so tests need not wait long.</summary>
    public SimulationOptions Simulation { get; } = new() { OutsideAnswerDelay = TimeSpan.FromMilliseconds(50) };

    /// <summary>Content of the IP-to-extension table written before start, or null for none.</summary>
    public string? ExtensionsIni { get; set; }

    /// <summary>File name of the table (its matching is case-insensitive).</summary>
    public string ExtensionsFileName { get; set; } = ExtensionMap.DefaultFileName;

    /// <summary>Dial-file settings; null runs no dial-file watcher. The directory is set to dial/ in the test's temp dir.</summary>
    public DialFileOptions? DialFiles { get; set; }

    /// <summary>Runs after the temp dir exists and before anything starts (e.g. to drop dial files there).</summary>
    public Action<string>? BeforeStart { get; set; }

    /// <summary>Where the interpreter and the server log to; null logs nowhere.</summary>
    public Switchboard.Tests.Shared.CapturingLogger? Log { get; set; }

    /// <summary>Where the dial-file watcher logs (null: nowhere).</summary>
    public ListLogger<DialFileWatcher>? DialFileLog { get; set; }

    /// <summary>Where the FCTIIPEX.INI table logs (null: nowhere).</summary>
    public ListLogger<ExtensionMap>? ExtensionMapLog { get; set; }

    /// <summary>Replaces the simulation with a test double.</summary>
    public ICallControl? CallControl { get; set; }

    /// <summary>Fast dial-file settings: short settle time and scan interval.</summary>
    public static DialFileOptions FastDialFiles() =>
        new() { SettleTime = TimeSpan.FromMilliseconds(50), ScanInterval = TimeSpan.FromMilliseconds(50) };
}

/// <summary>
/// A complete IP interface as the executable wires it (simulation, access policy, FCTIIPEX.INI, interpreter, TCP+UDP
/// server, optional dial-file watcher), on its own port and temp directory.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private SimulatedPhoneSystem? _simulation;

    private TestServer(string dir) => Dir = dir;

    /// <summary>The test's temp directory (FCTIIPEX.INI lives here; dial files in <see cref="DialDir"/>).</summary>
    public string Dir { get; }

    /// <summary>The watched dial-file directory.</summary>
    public string DialDir => Path.Combine(Dir, "dial");

    /// <summary>The event hub the simulation publishes to.</summary>
    public CallEventHub Events { get; } = new();

    /// <summary>The phone system behind the interpreter.</summary>
    public ICallControl CallControl { get; private set; } = null!;

    /// <summary>The server under test.</summary>
    public IpInterfaceServer Server { get; private set; } = null!;

    /// <summary>The interpreter behind every front end.</summary>
    public CommandInterpreter Interpreter { get; private set; } = null!;

    /// <summary>The dial-file watcher, if configured.</summary>
    public DialFileWatcher? DialFiles { get; private set; }

    /// <summary>The IP-to-extension table.</summary>
    public ExtensionMap Extensions { get; private set; } = null!;

    /// <summary>The bound endpoint (TCP and UDP share the port).</summary>
    public IPEndPoint EndPoint => Server.LocalEndPoint;

    /// <summary>Builds and starts a server.</summary>
    public static async Task<TestServer> StartAsync(Action<ServerConfig>? configure = null)
    {
        var config = new ServerConfig();
        configure?.Invoke(config);
        var dir = Path.Combine(Path.GetTempPath(), "sb-iface-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var s = new TestServer(dir);
        if (config.ExtensionsIni is not null) File.WriteAllText(Path.Combine(dir, config.ExtensionsFileName), config.ExtensionsIni);
        config.BeforeStart?.Invoke(dir);
        if (config.CallControl is null)
        {
            s._simulation = new SimulatedPhoneSystem(new CallModel(config.Simulation.Devices, s.Events), config.Simulation);
            s.CallControl = s._simulation;
        }
        else
        {
            s.CallControl = config.CallControl;
        }
        s.Extensions = new ExtensionMap(dir, TimeSpan.FromMilliseconds(100), config.ExtensionMapLog);
        var interpreter = new CommandInterpreter(s.CallControl, new AccessPolicy(config.Access), s.Extensions, config.Log?.For<CommandInterpreter>());
        s.Interpreter = interpreter;
        s.Server = new IpInterfaceServer(interpreter, s.Events, Options.Create(config.Ip), config.Log?.For<IpInterfaceServer>());
        await s.Server.StartAsync(CancellationToken.None);
        if (config.DialFiles is { } dial)
        {
            dial.Directory = s.DialDir;
            s.DialFiles = new DialFileWatcher(interpreter, Options.Create(dial), config.DialFileLog);
            await s.DialFiles.StartAsync(CancellationToken.None);
        }
        return s;
    }

    /// <summary>A new TCP connection to the stream port.</summary>
    public Task<LineClient> ConnectAsync(Action<Socket>? beforeConnect = null) => LineClient.ConnectAsync(EndPoint, beforeConnect);

    /// <summary>Sends one datagram from a fresh socket and returns the text of the reply datagram.</summary>
    public async Task<string> UdpAsync(string payload)
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await udp.SendAsync(Encoding.Latin1.GetBytes(payload), EndPoint);
        using var cts = new CancellationTokenSource(Poll.Timeout);
        var reply = await udp.ReceiveAsync(cts.Token);
        return Encoding.ASCII.GetString(reply.Buffer);
    }

    /// <summary>The device's Status line as the Status command would answer it (read directly, without a socket).</summary>
    public async Task<string> StatusAsync(string device) =>
        await CallControl.GetStatusAsync(device) is { } status ? CommandInterpreter.FormatStatus(status) : $"unknown device {device}";

    /// <summary>Polls the device's status until it satisfies <paramref name="accept"/>.</summary>
    public Task<string> WaitForStatusAsync(string device, Func<string, bool> accept, string what) =>
        Poll.UntilAsync(() => StatusAsync(device), accept, $"{device}: {what}");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (DialFiles is not null)
        {
            await DialFiles.StopAsync(CancellationToken.None);
            DialFiles.Dispose();
        }
        await Server.DisposeAsync();
        Interpreter.Dispose();
        Extensions.Dispose();
        _simulation?.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir must not fail a test.
        }
    }
}
