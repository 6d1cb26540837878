using System.CommandLine;
using System.CommandLine.Help;
using Microsoft.Extensions.Hosting;

namespace Switchboard.Operations;

/// <summary>
/// The command line: <c>switchboard</c> runs the server, <c>--help</c> and <c>--version</c> only print, <c>ctl …</c>
/// talks to a running server. Configuration keys (<c>--Sip:Port=5070</c>) pass through to the configuration; any
/// other unknown option is an error, so a mistyped option never starts a server with defaults the operator did not mean.
/// </summary>
public static class SwitchboardCommandLine
{
    /// <summary>Exit code of a command line that could not be understood (as for a configuration error).</summary>
    public const int UsageError = 2;

    /// <summary>Parses and runs; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var demo = new Option<bool>("--demo") { Description = "Run the simulated phone system with its own database (switchboard-demo.db)" };
        var config = new Option<string?>("--config") { Description = "Configuration file (default: ./switchboard.json if present)", HelpName = "FILE" };
        var root = new RootCommand(
            "Switchboard CTI server: the built-in SIP switch, the Asterisk connector or a simulation behind the TAPIMaster IP interface.\n" +
            "Any configuration key can be given as --Section:Key=value (e.g. --Sip:Port=5070, --PhoneSystem=asterisk).")
        {
            demo, config,
        };
        root.TreatUnmatchedTokensAsErrors = false;
        // Running the server is done below, outside System.CommandLine's invocation (the host handles SIGTERM itself).
        root.SetAction(_ => 0);
        var ctl = ControlCommandLine.Create(config);
        root.Subcommands.Add(ctl.Command);

        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var e in result.Errors) stderr.WriteLine("switchboard: " + e.Message);
            return UsageError;
        }
        if (result.CommandResult.Command == ctl.Command) return await ctl.RunAsync(result, stdout, stderr).ConfigureAwait(false);
        if (root.Options.OfType<HelpOption>().Any(o => result.GetResult(o) is not null)
            || root.Options.OfType<VersionOption>().Any(o => result.GetResult(o) is not null))
        {
            // Help and version print and leave: no configuration read, no port opened, no file created.
            return await result.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }).ConfigureAwait(false);
        }
        if (ConfigurationArguments.FirstUnknown(result.UnmatchedTokens) is { } unknown)
        {
            stderr.WriteLine($"switchboard: unknown option '{unknown}' (configuration keys are written --Section:Key=value; see --help)");
            return UsageError;
        }
        return await RunServerAsync([.. result.UnmatchedTokens], new HostLaunch(result.GetValue(demo), result.GetValue(config)), stderr).ConfigureAwait(false);
    }

    private static async Task<int> RunServerAsync(string[] configurationArgs, HostLaunch launch, TextWriter stderr)
    {
        try
        {
            using var host = SwitchboardHost.Build(configurationArgs, launch);
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (StartupFailure.Of(ex) is { } failure)
        {
            // One clear line for the operator; the stack trace is in the log at debug level (StartupFailure.Log).
            stderr.WriteLine("switchboard: " + failure.Message);
            return failure.ExitCode;
        }
        catch (Exception ex)
        {
            // Not a known start-up error: still one line, the stack trace only when debug logging was asked for.
            stderr.WriteLine($"switchboard: start-up failed: {ex.GetBaseException().Message} ({ex.GetBaseException().GetType().Name})");
            if (configurationArgs.Any(a => a.Contains("=Debug", StringComparison.OrdinalIgnoreCase) || a.Contains("=Trace", StringComparison.OrdinalIgnoreCase)))
                stderr.WriteLine(ex.ToString());
            return 1;
        }
    }
}

/// <summary>What the command line asked of the host besides configuration keys.</summary>
/// <param name="Demo">Run the simulated phone system on its own database.</param>
/// <param name="ConfigFile">The configuration file given with <c>--config</c>, or null for ./switchboard.json if present.</param>
public sealed record HostLaunch(bool Demo, string? ConfigFile);

/// <summary>Which leftover command-line tokens are configuration keys (as Microsoft.Extensions.Configuration.CommandLine reads them).</summary>
public static class ConfigurationArguments
{
    // Top-level keys without a section (SwitchboardOptions); everything else is Section:Key.
    private static readonly HashSet<string> TopLevel = new(
        typeof(SwitchboardOptions).GetProperties().Select(p => p.Name), StringComparer.OrdinalIgnoreCase);

    /// <summary>The first token that is neither a configuration key nor its value, or null when all are.</summary>
    public static string? FirstUnknown(IReadOnlyList<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var span = token.AsSpan();
            bool dashed = span.StartsWith("--") || span.StartsWith("/");
            var body = span.StartsWith("--") ? span[2..] : span.StartsWith("/") ? span[1..] : span;
            int eq = body.IndexOf('=');
            if (!dashed && eq < 0) return token;
            var key = eq >= 0 ? body[..eq] : body;
            if (!IsKey(key)) return dashed || eq >= 0 ? token[..(token.Length - body.Length + key.Length)] : token;
            // "--Key value": the next token is the value.
            if (eq < 0) i++;
        }
        return null;
    }

    private static bool IsKey(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || key.IndexOfAny(' ', '\t') >= 0) return false;
        if (key.IndexOf(':') > 0) return true;
        return TopLevel.Contains(key.ToString());
    }
}

/// <summary>A start-up failure as the operator should see it: one message and the exit code.</summary>
public sealed record StartupFailure(string Message, int ExitCode)
{
    /// <summary>The failure an exception from building or starting the host stands for, or null for a bug (which keeps its stack trace).</summary>
    public static StartupFailure? Of(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is StartupException startup) return new(startup.Message, startup.ExitCode);
            if (e is System.Net.Sockets.SocketException socket) return new(ex.Message == socket.Message ? socket.Message : ex.Message, StartupException.ConfigurationError);
        }
        return null;
    }
}
