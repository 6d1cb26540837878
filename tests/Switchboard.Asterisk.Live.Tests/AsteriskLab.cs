using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Interface;
using Switchboard.Testing;
using Switchboard.Testing.Phones;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>
/// One test class's telephone system: a real Asterisk 22.10.1 configured with the README's manager.conf and dialplan,
/// three real baresip phones registered to it (100 plays 440 Hz, 101 1000 Hz, 102 1700 Hz), and Switchboard with
/// <c>PhoneSystem=asterisk</c> in-process, driven over its IP interface port like a CTI client.
/// </summary>
public class AsteriskLab : IAsyncLifetime
{
    public const double Tone100 = 440, Tone101 = 1000, Tone102 = 1700;

    private readonly string _dir = Directory.CreateTempSubdirectory("sb-ast-").FullName;
    private IHost? _host;
    private Switchboard.Asterisk.Ami.AmiClient? _tap;
    private CancellationTokenSource? _tapCts;
    private Task? _tapRun;

    public AsteriskServer Asterisk { get; private set; } = null!;

    public Baresip P100 { get; private set; } = null!;

    public Baresip P101 { get; private set; } = null!;

    public Baresip P102 { get; private set; } = null!;

    /// <summary>Sends commands and reads reply lines.</summary>
    public CtiClient Cti { get; private set; } = null!;

    /// <summary>A second connection with <c>Monitor *</c>: every EVENT line.</summary>
    public CtiClient Events { get; private set; } = null!;

    public AsteriskPhoneSystem Connector => _host!.Services.GetRequiredService<AsteriskPhoneSystem>();

    public string Dir => _dir;

    /// <summary>The phones that were started.</summary>
    public IEnumerable<Baresip> Phones => new[] { P100, P101, P102 }.Where(p => p is not null);

    /// <summary>Lines appended to modules.conf (e.g. a noload) by a derived lab.</summary>
    protected virtual string ExtraModules => "";

    /// <summary>False: phone 102 is never started (an endpoint without a registered phone).</summary>
    protected virtual bool StartPhone102 => true;

    /// <summary>Extra Switchboard settings of a derived lab.</summary>
    protected virtual Dictionary<string, string?> ExtraSettings => [];

    public async Task InitializeAsync()
    {
        if (AsteriskServer.SkipReason is not null) return;
        var files = new Dictionary<string, string>
        {
            ["manager.conf"] = Readme.Block("manager.conf").Replace("port = 5038", "port = {AMI_PORT}", StringComparison.Ordinal)
                .Replace("<long random secret>", AsteriskServer.AmiSecret, StringComparison.Ordinal),
            ["extensions.conf"] = Readme.Block("extensions.conf"),
        };
        // Not a user setting: baresip 1.0 drops every packet "too late" when a native RTP bridge hands it the other
        // phone's stream with a lower sequence number, so Asterisk relays the frames itself (one sender per phone).
        files["+modules.conf"] = "noload = bridge_native_rtp.so\n" + ExtraModules;
        Asterisk = await AsteriskServer.StartAsync(_dir, files);
        P100 = await Baresip.StartAsync("p100", _dir, Asterisk.Account("100"), "tone:440");
        P101 = await Baresip.StartAsync("p101", _dir, Asterisk.Account("101"), "tone:1000");
        if (StartPhone102) P102 = await Baresip.StartAsync("p102", _dir, Asterisk.Account("102"), "tone:1700");
        int phones = StartPhone102 ? 3 : 2;
        await Poll.UntilAsync(() => Asterisk.RegisteredAsync().Result.Count == phones, "the phones registered at Asterisk");

        // A second AMI session that writes every event to ami-events.txt: what Asterisk said, for failure analysis.
        var tapLog = new StreamWriter(Path.Combine(_dir, "ami-events.txt")) { AutoFlush = true };
        _tap = new Switchboard.Asterisk.Ami.AmiClient(new() { Port = Asterisk.AmiPort, Username = AsteriskServer.AmiUser, Secret = AsteriskServer.AmiSecret, ReconnectMinDelay = TimeSpan.FromMilliseconds(200) })
        {
            EventReceived = e => { lock (tapLog) tapLog.WriteLine(e.Packet.ToString() + "\n"); },
        };
        _tapCts = new CancellationTokenSource();
        _tapRun = _tap.RunAsync(_tapCts.Token);

        var settings = new Dictionary<string, string?>
        {
            ["PhoneSystem"] = "asterisk",
            ["Asterisk:Host"] = "127.0.0.1",
            ["Asterisk:Port"] = Asterisk.AmiPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Asterisk:Username"] = AsteriskServer.AmiUser,
            ["Asterisk:Secret"] = AsteriskServer.AmiSecret,
            ["Asterisk:Devices:0"] = "100",
            ["Asterisk:Devices:1"] = "101",
            ["Asterisk:Devices:2"] = "102",
            ["Asterisk:ReconnectMinDelayMs"] = "200",
            ["Sip:Port"] = "0",
            ["Sip:ListenAddress"] = "127.0.0.1",
            ["IpInterface:Port"] = "0",
            ["IpInterface:ListenAddress"] = "127.0.0.1",
            ["CtiServer:Enabled"] = "false",
            ["Database"] = Path.Combine(_dir, "sb.db"),
            ["DialFiles:Enabled"] = "false",
            ["ExtensionMap"] = _dir,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in ExtraSettings) settings[k] = v;
        _host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(settings));
        await _host.StartAsync();
        await Poll.UntilAsync(() => Connector.IsConnected, "Switchboard logged in to AMI");
        int port = _host.Services.GetRequiredService<IpInterfaceServer>().LocalEndPoint.Port;
        Cti = await CtiClient.ConnectAsync(port);
        Events = await CtiClient.ConnectAsync(port);
        Assert.StartsWith("200", await Events.CommandAsync("Monitor *"));
    }

    /// <summary>Starts the phones again (they register anew), e.g. after Asterisk lost their contacts in a crash.</summary>
    public async Task RestartPhonesAsync()
    {
        foreach (var p in Phones) await p.DisposeAsync();
        P100 = await Baresip.StartAsync("p100b", _dir, Asterisk.Account("100"), "tone:440");
        P101 = await Baresip.StartAsync("p101b", _dir, Asterisk.Account("101"), "tone:1000");
        if (StartPhone102) P102 = await Baresip.StartAsync("p102b", _dir, Asterisk.Account("102"), "tone:1700");
        int phones = StartPhone102 ? 3 : 2;
        await Poll.UntilAsync(() => Asterisk.RegisteredAsync().Result.Count == phones, "the phones registered at Asterisk again");
    }

    /// <summary>Ends whatever a test left behind, so the next test of the class starts with idle phones.</summary>
    public async Task ResetAsync()
    {
        foreach (var d in new[] { "100", "101", "102" })
            if (Connector.Model.GetForwarding(d).Mode != Switchboard.Telephony.ForwardingMode.None) Assert.StartsWith("200", await Cti.CommandAsync("Forward " + d));
        foreach (var p in Phones)
        {
            for (int i = 0; i < 4; i++)
            {
                var calls = (string?)(await p.CommandAsync("listcalls"))["data"] ?? "";
                if (!calls.Contains("sip:", StringComparison.Ordinal)) break;
                await p.CommandAsync("hangup");
            }
        }
        await Poll.UntilAsync(() => Asterisk.ChannelsAsync().Result.Count == 0, "Asterisk without channels");
        await Poll.UntilAsync(() => Connector.Model.Calls.Count == 0, "no calls in the model");
        foreach (var p in Phones)
        {
            p.DiscardEvents();
            p.ForgetRecordings();
        }
        Events.DiscardEvents();
    }

    public async Task DisposeAsync()
    {
        if (Cti is not null) await Cti.DisposeAsync();
        if (Events is not null) await Events.DisposeAsync();
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
        if (_tap is not null)
        {
            await _tapCts!.CancelAsync();
            await _tap.DisposeAsync();
            await _tapRun!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _tapCts.Dispose();
        }
        foreach (var p in Phones) await p.DisposeAsync();
        if (Asterisk is not null) await Asterisk.DisposeAsync();
        try
        {
            if (Environment.GetEnvironmentVariable("SB_KEEP_TEST_DIRS") is null) Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The README's "Asterisk connector" set-up: the tests run exactly the blocks a user copies.</summary>
public static class Readme
{
    /// <summary>README.md of the checkout.</summary>
    public static string Text() => File.ReadAllText(Path.Combine(Root(), "README.md"));

    /// <summary>The fenced block after <c>&lt;!-- asterisk-setup: NAME --&gt;</c> in README.md.</summary>
    public static string Block(string name)
    {
        var text = Text();
        var marker = $"<!-- asterisk-setup: {name} -->";
        int at = text.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException($"README.md has no {marker}");
        int open = text.IndexOf("```", at, StringComparison.Ordinal);
        int start = text.IndexOf('\n', open) + 1;
        int end = text.IndexOf("```", start, StringComparison.Ordinal);
        return text[start..end];
    }

    private static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Switchboard.slnx"))) return d.FullName;
        throw new InvalidOperationException("no Switchboard.slnx above " + AppContext.BaseDirectory);
    }
}

/// <summary>A TCP client of the IP interface: command lines and their replies; EVENT lines kept aside as they arrive.</summary>
public sealed class CtiClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly StreamWriter _writer;
    private readonly BlockingCollection<string> _replies = [];
    private readonly List<string> _events = [];
    private readonly Task _reader;

    private CtiClient(TcpClient tcp)
    {
        _tcp = tcp;
        _writer = new StreamWriter(tcp.GetStream()) { AutoFlush = true, NewLine = "\r\n" };
        var reader = new StreamReader(tcp.GetStream());
        _reader = Task.Run(async () =>
        {
            try
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith("EVENT ", StringComparison.Ordinal)) lock (_events) _events.Add(line);
                    else _replies.Add(line);
                }
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        });
    }

    public static async Task<CtiClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        return new CtiClient(tcp);
    }

    /// <summary>Sends one command line and returns its reply line.</summary>
    public async Task<string> CommandAsync(string line)
    {
        await _writer.WriteLineAsync(line);
        return await Task.Run(() => _replies.TryTake(out var r, TimeSpan.FromSeconds(15)) ? r : throw new TimeoutException($"no reply to '{line}'"));
    }

    public IReadOnlyList<string> EventLines { get { lock (_events) return [.. _events]; } }

    public void DiscardEvents()
    {
        lock (_events) _events.Clear();
    }

    /// <summary>Waits for an EVENT line containing every one of <paramref name="parts"/> and returns it.</summary>
    public async Task<string> WaitEventAsync(params string[] parts)
    {
        string? found = null;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while ((found = EventLines.FirstOrDefault(l => parts.All(p => l.Contains(p, StringComparison.Ordinal)))) is null)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(15))
                Assert.Fail($"no EVENT with {string.Join(" & ", parts)}; events:\n{string.Join("\n", EventLines)}");
            await Task.Delay(50);
        }
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        await _reader;
        _replies.Dispose();
    }
}

/// <summary>The skip every live test starts with.</summary>
public static class Live
{
    /// <summary>Skips the test, saying why, where no Asterisk can run.</summary>
    public static void RequireAsterisk()
    {
        var why = AsteriskServer.SkipReason;
        Skip.If(why is not null, why);
    }
}
