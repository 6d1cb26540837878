using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Tests;

/// <summary>The CTI server port of the real executable against oversized requests: the reply and what the log shows.</summary>
public sealed class WebLimitsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-weblimits-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    [Fact]
    public async Task A_request_body_over_64_KiB_gets_413_and_one_short_log_line_not_an_exception()
    {
        int port = FreePort();
        await using var server = await ServerProcess.StartAsync(_dir, "--demo", $"--CtiServer:Port={port}", "--CtiServer:ListenAddress=127.0.0.1");
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !server.Output.Contains("CTI server (dashboard", StringComparison.Ordinal);)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the CTI server port did not start:\n" + server.Output);
            await Task.Delay(50);
        }
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        // A token made in the server's accounts file from outside the process, as the ops CLI would.
        using (var accounts = new Switchboard.Accounts.AccountStore(Path.Combine(_dir, "switchboard-demo-accounts.db")))
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", WebSignIn.CreateToken(accounts));
        var big = new string('1', 100 * 1024);

        var sized = await http.PostAsync("/api/commands", new StringContent("MakeCall 100 " + big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, sized.StatusCode);
        Assert.Contains("request body larger than 65536 bytes", await sized.Content.ReadAsStringAsync());

        // Without Content-Length (chunked) the limit is hit while reading.
        var chunked = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("MakeCall 100 " + big)));
        var streamed = await http.PostAsync("/api/commands", chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/commands", new StringContent("Status 100"))).StatusCode);
        var log = server.Output;
        Assert.DoesNotContain("Exception", log, StringComparison.Ordinal);
        var lines = log.Split('\n').Where(l => l.Contains("request body", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 2, log);
        Assert.All(lines, l => Assert.True(l.Length < 200, l));
    }
}
