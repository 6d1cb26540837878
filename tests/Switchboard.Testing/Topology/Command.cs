using System.Diagnostics;

namespace Switchboard.Testing.Topology;

/// <summary>Runs the system tools that build a topology (ip, iptables, sysctl) and reports what they said.</summary>
internal static class Command
{
    /// <summary>Runs the program; returns its exit code and what it wrote (stdout, then stderr). -1: it could not start.</summary>
    public static (int Code, string Output) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, $"{program}: {ex.Message}");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(30_000))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"{program} {string.Join(' ', args)}: no answer in 30 s");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    /// <summary>Runs the program and throws, with the command line and its output, unless it succeeded.</summary>
    public static string Must(string program, params string[] args)
    {
        var (code, output) = Run(program, args);
        if (code != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({code}): {output.Trim()}");
        return output;
    }

    /// <summary>Runs a tool inside a network namespace.</summary>
    public static string InNamespace(string ns, string program, params string[] args) => Must("ip", ["netns", "exec", ns, program, .. args]);
}
