using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Switchboard.Testing;

/// <summary>
/// Runs the real sipp (Debian sip-tester) with a scenario from the calling test project's Scenarios/ folder (copied
/// next to its assembly) against the stack under test.
/// </summary>
public static class Sipp
{
    private static string? Executable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "sipp")).FirstOrDefault(File.Exists);

    /// <summary>
    /// sipp substitutes -key values inside messages but not in attributes such as recv response="…"; so the keys are
    /// written into a copy of the scenario instead.
    /// </summary>
    private static string Materialize(string scenario, string[] extra)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Scenarios", scenario));
        for (int i = 0; i + 2 < extra.Length; i++)
            if (extra[i] == "-key") text = text.Replace("[" + extra[i + 1] + "]", extra[i + 2], StringComparison.Ordinal);
        var path = Path.Combine(Path.GetTempPath(), $"sb-sipp-{Guid.NewGuid():N}.xml");
        File.WriteAllText(path, text);
        return path;
    }

    private static IEnumerable<string> WithoutKeys(string[] extra)
    {
        for (int i = 0; i < extra.Length; i++)
        {
            if (extra[i] == "-key" && i + 2 < extra.Length)
            {
                i += 2;
                continue;
            }
            yield return extra[i];
        }
    }

    /// <summary>Starts sipp; the caller awaits <see cref="SippRun.ExitAsync"/>.</summary>
    public static SippRun Start(string scenario, int localPort, string? remote, params string[] extra)
    {
        if (Executable() is null)
            Assert.Fail("sipp is not on PATH: install the Debian package sip-tester (apt-get install -y sip-tester); the conformance tests need it");
        var psi = new ProcessStartInfo("sipp") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var args = new List<string>();
        if (scenario.StartsWith("builtin:", StringComparison.Ordinal)) args.AddRange(["-sn", scenario[8..]]);
        else args.AddRange(["-sf", Materialize(scenario, extra)]);
        args.AddRange(["-i", "127.0.0.1", "-p", localPort.ToString(CultureInfo.InvariantCulture), "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"]);
        args.AddRange(WithoutKeys(extra));
        // sipp's digest uri defaults to sip:remote_ip:port, right only for REGISTER; the switch checks that the uri is
        // the Request-URI (RFC 2617 §3.2.2.5), so the scenarios' INVITE sip:[service]@[remote] is named explicitly.
        int service = Array.IndexOf(extra, "-s");
        if (remote is not null && service >= 0 && service + 1 < extra.Length && !extra.Contains("-auth_uri") && !scenario.StartsWith("register", StringComparison.Ordinal))
            args.AddRange(["-auth_uri", $"{extra[service + 1]}@{remote}"]);
        var errors = Path.Combine(Path.GetTempPath(), $"sb-sipp-{Guid.NewGuid():N}.err");
        args.AddRange(["-trace_err", "-error_file", errors]);
        if (remote is not null) args.Add(remote);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var run = new SippRun(Process.Start(psi)!, errors);
        if (remote is null) Ports.WaitUntilUdpBound(localPort);
        return run;
    }
}

/// <summary>A running sipp.</summary>
public sealed class SippRun(Process process, string errorFile) : IDisposable
{
    private readonly Task<string> _out = process.StandardOutput.ReadToEndAsync();
    private readonly Task<string> _err = process.StandardError.ReadToEndAsync();

    /// <summary>Waits for sipp to finish; returns its exit code (0: every call followed the scenario) and output.</summary>
    public async Task<(int Code, string Output)> ExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            return (-1, "sipp timed out\n" + await _out + await _err);
        }
        var output = await _out + await _err;
        if (File.Exists(errorFile))
        {
            var errors = await File.ReadAllTextAsync(errorFile);
            File.Delete(errorFile);
            if (errors.Length > 0) output = "sipp errors:\n" + (errors.Length > 3000 ? errors[..3000] : errors) + "\n" + output;
        }
        return (process.ExitCode, output.Length > 8000 ? output[..8000] : output);
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill();
        process.Dispose();
    }
}
