using System.Net;
using System.Text.RegularExpressions;

namespace Switchboard.Tests;

/// <summary>The real executable's first start: an admin account with a random password shown once in the log.</summary>
public sealed partial class WebFirstStartTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-firststart-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    [GeneratedRegex(@"Web account admin created with the password (\S+) ")]
    private static partial Regex AdminLine();

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    private static async Task<HttpStatusCode> SignInAsync(int port, string password)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        };
        var csrf = FormToken().Match(await http.GetStringAsync("/login")).Groups[1].Value;
        var r = await http.PostAsync("/login", new FormUrlEncodedContent([new("csrf", csrf), new("name", "admin"), new("password", password)]));
        return r.StatusCode;
    }

    private async Task<ServerProcess> StartAsync(int port, string waitFor)
    {
        var server = await ServerProcess.StartAsync(_dir, "--demo", $"--CtiServer:Port={port}", "--CtiServer:ListenAddress=127.0.0.1");
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !server.Output.Contains(waitFor, StringComparison.Ordinal);)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the CTI server port did not start:\n" + server.Output);
            await Task.Delay(50);
        }
        return server;
    }

    [Fact]
    public async Task The_first_start_shows_a_random_admin_password_once_and_it_signs_in()
    {
        int port = FreePort();
        string password;
        await using (var first = await StartAsync(port, "[2601]"))
        {
            var match = AdminLine().Match(first.Output);
            Assert.True(match.Success, first.Output);
            password = match.Groups[1].Value;
            Assert.Equal(20, password.Length);
            Assert.Equal(HttpStatusCode.Redirect, await SignInAsync(port, password));
            Assert.Equal(HttpStatusCode.Unauthorized, await SignInAsync(port, password + "x"));
        }
        await using var second = await StartAsync(port, "[2607]");
        Assert.Equal(HttpStatusCode.Redirect, await SignInAsync(port, password));
        Assert.DoesNotContain("created with the password", second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(password, await File.ReadAllTextAsync(Path.Combine(_dir, "switchboard-demo-accounts.db")), StringComparison.Ordinal);
    }
}
