using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Switchboard.Control;

namespace Switchboard.Operations;

/// <summary><c>switchboard ctl COMMAND …</c>: one request to the running server's control socket, its reply printed.</summary>
public sealed class ControlCommandLine
{
    /// <summary>Where the packaged server keeps its state (systemd StateDirectory=switchboard).</summary>
    public const string PackagedSocket = "/var/lib/switchboard/switchboard.ctl";

    private readonly Option<string?> _config;
    private readonly Option<string?> _socket = new("--socket") { Description = "The control socket (default: Control:Socket, else beside the database)", HelpName = "PATH" };
    private readonly Option<bool> _reset = new("--reset") { Description = "passwords, web-password: give the extension or the web admin a new password" };
    private readonly Argument<string[]> _words = new("command")
    {
        Description = "status | registrations | calls | trunks | passwords [EXT] [--reset] | web-password [--reset] | sip-trace on|off [EXT] | reload",
        Arity = ArgumentArity.OneOrMore,
    };

    private ControlCommandLine(Option<string?> config)
    {
        _config = config;
        Command = new Command("ctl", "Ask the running server (over its control socket)") { _socket, _reset, _words };
        Command.Options.Add(config);
    }

    /// <summary>The <c>ctl</c> command.</summary>
    public Command Command { get; }

    /// <summary>Creates the command; <paramref name="config"/> is the root's <c>--config</c>, also read here to find the socket.</summary>
    public static ControlCommandLine Create(Option<string?> config) => new(config);

    /// <summary>Sends the request; exit 0 for <c>ok</c>, 1 for an error reply or no server.</summary>
    public async Task<int> RunAsync(ParseResult result, TextWriter stdout, TextWriter stderr)
    {
        var words = result.GetValue(_words) ?? [];
        var request = words.ToList();
        if (result.GetValue(_reset)) request.Add("--reset");
        string path;
        try
        {
            path = result.GetValue(_socket) ?? DefaultSocket(result.GetValue(_config));
        }
        catch (StartupException ex)
        {
            stderr.WriteLine("switchboard ctl: " + ex.Message);
            return SwitchboardCommandLine.UsageError;
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var (status, lines) = await ControlClient.SendAsync(path, request, timeout.Token).ConfigureAwait(false);
            foreach (var line in lines) stdout.WriteLine(line);
            if (status == "ok") return 0;
            stderr.WriteLine("switchboard ctl: " + (status.StartsWith("error ", StringComparison.Ordinal) ? status[6..] : status));
            return 1;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            stderr.WriteLine($"switchboard ctl: no server answers on {path} ({ex.Message}); is it running, and may this user open the socket?");
            return 1;
        }
    }

    /// <summary>The socket the server of this configuration listens on (the same rule as <see cref="ControlOptions.SocketPath"/>).</summary>
    private static string DefaultSocket(string? configFile)
    {
        var file = configFile ?? (File.Exists("switchboard.json") ? "switchboard.json" : File.Exists("/etc/switchboard/switchboard.json") ? "/etc/switchboard/switchboard.json" : null);
        if (configFile is not null && !File.Exists(configFile)) throw new StartupException($"the configuration file {Path.GetFullPath(configFile)} does not exist (--config)");
        var builder = new ConfigurationBuilder();
        if (file is not null) builder.AddJsonFile(Path.GetFullPath(file), optional: true);
        builder.AddEnvironmentVariables("SWITCHBOARD_");
        var configuration = builder.Build();
        var path = ControlOptions.SocketPath(configuration["Control:Socket"], configuration["Database"] ?? new SwitchboardOptions().Database);
        return File.Exists(path) || !File.Exists(PackagedSocket) ? path : PackagedSocket;
    }
}

/// <summary>Settings of the control socket (configuration section "Control").</summary>
public sealed class ControlOptions
{
    /// <summary>Serve the control socket at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The socket file; empty puts it beside the database as NAME.ctl (in the state directory when packaged).</summary>
    public string Socket { get; set; } = "";

    /// <summary>The socket path for a setting and a database path: NAME.db → NAME.ctl beside it.</summary>
    public static string SocketPath(string? socket, string database) =>
        Path.GetFullPath(!string.IsNullOrEmpty(socket) ? socket : Path.ChangeExtension(Path.GetFullPath(database), ".ctl"));
}
