using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Playwright;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Web;

namespace Switchboard.Tests;

/// <summary>
/// The stored XSS of the hostile-field run, end to end: the built-in switch with a trunk, a real registered phone
/// socket, a trunk INVITE whose P-Asserted-Identity carries markup, and the dashboard in a real Chromium (Debian's
/// chromium driven by Playwright; scripts/test.sh installs it).
/// </summary>
public sealed class DashboardXssTests : IAsyncLifetime
{
    private const string Payload = "<img src=x onerror=window.__pwned=1//";
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-xss-").FullName;
    private readonly UdpClient _trunk = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly UdpClient _phone = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly int _sipPort = FreeUdpPort();
    private IHost _host = null!;
    private int _webPort;

    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    // The switch listens on UDP and TCP at Sip:Port and TLS at the next port: all of them must be free (a UDP-only
    // probe once gave a port whose TCP or TLS neighbour was taken: "Address already in use").
    private static int FreeUdpPort() => Switchboard.Testing.Ports.Block(2);

    private int TrunkPort => ((IPEndPoint)_trunk.Client.LocalEndPoint!).Port;

    private int PhonePort => ((IPEndPoint)_phone.Client.LocalEndPoint!).Port;

    public async Task InitializeAsync()
    {
        _host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PhoneSystem"] = "sip",
            ["Sip:Port"] = P(_sipPort),
            ["Sip:ListenAddress"] = "127.0.0.1",
            ["Sip:Passwords:100"] = "pw100",
            ["Sip:Trunks:0:Name"] = "provider",
            ["Sip:Trunks:0:Host"] = "127.0.0.1",
            ["Sip:Trunks:0:Port"] = P(TrunkPort),
            ["Sip:Trunks:0:Dids:+4989555100"] = "100",
            ["IpInterface:Port"] = "0",
            ["IpInterface:ListenAddress"] = "127.0.0.1",
            ["CtiServer:Port"] = "0",
            ["CtiServer:ListenAddress"] = "127.0.0.1",
            ["Database"] = Path.Combine(_dir, "sb.db"),
            ["DialFiles:Directory"] = Path.Combine(_dir, "dial"),
            ["ExtensionMap"] = _dir,
            ["Logging:LogLevel:Default"] = "Warning",
        }));
        await _host.StartAsync();
        _webPort = _host.Services.GetRequiredService<CtiWebServer>().Port;
    }

    public async Task DisposeAsync()
    {
        _trunk.Dispose();
        _phone.Dispose();
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private SipRequest Register(int cseq)
    {
        var r = new SipRequest("REGISTER", $"sip:127.0.0.1:{P(_sipPort)}");
        r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{P(PhonePort)};branch=z9hG4bK{Guid.NewGuid():N};rport");
        r.Add(SipHeaderNames.From, $"<sip:100@127.0.0.1:{P(_sipPort)}>;tag=ph");
        r.Add(SipHeaderNames.To, $"<sip:100@127.0.0.1:{P(_sipPort)}>");
        r.Add(SipHeaderNames.CallId, "xss-reg");
        r.Add(SipHeaderNames.CSeq, $"{P(cseq)} REGISTER");
        r.Add(SipHeaderNames.Contact, $"<sip:100@127.0.0.1:{P(PhonePort)}>");
        r.Add(SipHeaderNames.Expires, "600");
        return r;
    }

    private async Task<SipResponse> PhoneExchangeAsync(SipRequest request)
    {
        await _phone.SendAsync(request.ToBytes(), new IPEndPoint(IPAddress.Loopback, _sipPort));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var r = await _phone.ReceiveAsync(cts.Token);
            SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
            if (m is SipResponse resp && resp.StatusCode >= 200) return resp;
        }
    }

    /// <summary>The phone of 100 rings (180) when the switch offers it a call, and never answers.</summary>
    private async Task RingOnInviteAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var r = await _phone.ReceiveAsync(ct);
                SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _);
                if (m is SipRequest { Method: "INVITE" } invite)
                {
                    var ringing = SipResponse.For(invite, 180, toTag: "ringing100");
                    await _phone.SendAsync(ringing.ToBytes(), r.RemoteEndPoint, ct);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendHostileTrunkInviteAsync()
    {
        var did = "+4989555100";
        var invite = new SipRequest("INVITE", $"sip:{did}@127.0.0.1:{P(_sipPort)}");
        invite.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{P(TrunkPort)};branch=z9hG4bK{Guid.NewGuid():N}");
        invite.Add(SipHeaderNames.From, $"<sip:{Payload}@evil.example>;tag=evil");
        invite.Add(SipHeaderNames.To, $"<sip:{did}@127.0.0.1:{P(_sipPort)}>");
        invite.Add(SipHeaderNames.CallId, "xss-call");
        invite.Add(SipHeaderNames.CSeq, "1 INVITE");
        invite.Add(SipHeaderNames.Contact, $"<sip:evil@127.0.0.1:{P(TrunkPort)}>");
        invite.Add(SipHeaderNames.MaxForwards, "70");
        invite.Add("P-Asserted-Identity", $"<sip:{Payload}@evil.example>");
        invite.Add(SipHeaderNames.ContentType, "application/sdp");
        invite.Body = Encoding.ASCII.GetBytes("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n");
        await _trunk.SendAsync(invite.ToBytes(), new IPEndPoint(IPAddress.Loopback, _sipPort));
    }

    [Fact]
    public async Task A_trunk_caller_with_markup_shows_as_unknown_and_its_script_never_runs_in_chromium()
    {
        var challenge = await PhoneExchangeAsync(Register(1));
        Assert.Equal(401, challenge.StatusCode);
        var register = Register(2);
        Assert.True(DigestClient.Answer(challenge, register, "100", "pw100"));
        Assert.Equal(200, (await PhoneExchangeAsync(register)).StatusCode);
        using var stopRinging = new CancellationTokenSource();
        var ringer = RingOnInviteAsync(stopRinging.Token);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox"],
        });
        var page = await browser.NewPageAsync();
        var commands = new List<string>();
        page.Request += (_, r) =>
        {
            if (r.Url.Contains("/api/commands", StringComparison.Ordinal)) lock (commands) commands.Add(r.Method + " " + r.Url);
        };
        var cspViolations = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Text.Contains("Content Security Policy", StringComparison.Ordinal)) lock (cspViolations) cspViolations.Add(m.Text);
        };
        WebSignIn.Accounts(_host).CreateUser("operator1", Switchboard.Accounts.AccountRole.Operator, [], "operator-password");
        await WebSignIn.SignInAsync(page, _webPort, "operator1", "operator-password");
        // The script runs under the policy: the tiles are filled and the event stream (WebSocket) is connected.
        await page.Locator("#live.live-on").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        // The registration of 100 (from the test's phone socket) and the trunk are listed.
        var reg = page.Locator("#regs tbody tr", new PageLocatorOptions { HasText = $"127.0.0.1:{P(PhonePort)}" });
        await reg.WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        Assert.StartsWith("100", (await reg.Locator("td").AllInnerTextsAsync())[0], StringComparison.Ordinal);
        var trunk = await page.Locator("#trunks tbody tr").First.Locator("td").AllInnerTextsAsync();
        Assert.Equal("provider", trunk[0]);
        Assert.Equal("static", trunk[2]);

        await SendHostileTrunkInviteAsync();

        var call = page.Locator(".tile[data-device='100'] .call");
        await call.First.WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        await page.Locator(".tile[data-device='100'][data-lamp='ringing']").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"), "the caller's markup ran as script");
        Assert.Equal(0, await page.Locator("#tiles img").CountAsync());
        var text = await page.Locator(".tile[data-device='100']").InnerTextAsync();
        Assert.StartsWith("100", text.Trim(), StringComparison.Ordinal);
        Assert.Contains("alerting unknown", await call.First.InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppContext.BaseDirectory, "screenshots", "xss-caller-shown-as-text.png"), FullPage = true });
        lock (commands) Assert.Empty(commands);
        lock (cspViolations) Assert.Empty(cspViolations);

        await stopRinging.CancelAsync();
        await ringer;
    }

    [Fact]
    public async Task Every_response_of_the_web_port_carries_the_policy_and_the_page_has_no_inline_script()
    {
        using var http = WebSignIn.Client(_host);
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = http.BaseAddress };
        foreach (var (client, path) in new[] { (anonymous, "/"), (anonymous, "/login"), (anonymous, "/api/devices"), (http, "/"), (http, "/console.js"), (http, "/api/devices"), (http, "/nothing-here") })
        {
            using var response = await client.GetAsync(path);
            var csp = response.Headers.TryGetValues("Content-Security-Policy", out var v) ? string.Join(",", v) : "";
            Assert.StartsWith("default-src 'self'; script-src 'self';", csp, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
            Assert.Equal("nosniff", response.Headers.TryGetValues("X-Content-Type-Options", out var n) ? string.Join(",", n) : "");
        }
        var html = await http.GetStringAsync("/");
        Assert.DoesNotContain("<script>", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<style>", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("innerHTML", await http.GetStringAsync("/console.js"), StringComparison.Ordinal);
        var login = await anonymous.GetStringAsync("/login");
        Assert.DoesNotContain("<script", login, StringComparison.OrdinalIgnoreCase);
    }
}
