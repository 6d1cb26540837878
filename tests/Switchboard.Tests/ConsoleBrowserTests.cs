using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Playwright;
using Switchboard.Accounts;
using Switchboard.Web;

namespace Switchboard.Tests;

/// <summary>
/// The operator console in a real Chromium (Debian's chromium driven by Playwright) against the server with the
/// SIMULATED phone system (a fake: no phone rings, calls change state on command). What a call did is checked with
/// Status over the IP interface, as a TAPIMaster client would see it; screenshots go to screenshots/ in the output.
/// </summary>
public sealed class ConsoleBrowserTests : IAsyncLifetime
{
    private const string OperatorPassword = "operator-password";
    private static readonly string Shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-console-").FullName;
    private IHost _host = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private int _webPort;

    public async Task InitializeAsync()
    {
        _host = await SimulatedHost.StartAsync(_dir, new Dictionary<string, string?>
        {
            ["Devices:100:Name"] = "Reception",
            ["Devices:101:Name"] = "Sales <b>desk</b>",
        });
        _webPort = _host.Services.GetRequiredService<CtiWebServer>().Port;
        WebSignIn.Accounts(_host).CreateUser("operator1", AccountRole.Operator, [], OperatorPassword);
        Directory.CreateDirectory(Shots);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // attacker.example resolves to this machine, as a DNS-rebinding attacker's name would.
            Args = ["--no-sandbox", "--host-resolver-rules=MAP attacker.example 127.0.0.1"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<IPage> SignedInPageAsync(string me = "100")
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await WebSignIn.SignInAsync(page, _webPort, "operator1", OperatorPassword);
        await page.Locator("#live.live-on").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        await page.SelectOptionAsync("#me", me);
        return page;
    }

    private static LocatorWaitForOptions Within(int ms = 10_000) => new() { Timeout = ms };

    private Task Shot(IPage page, string name) => page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, name + ".png"), FullPage = true });

    private async Task<string> WaitForStatusAsync(string device, string expected)
    {
        var reply = "";
        for (int i = 0; i < 100; i++)
        {
            reply = await WebSignIn.IpCommandAsync(_host, "Status " + device);
            if (reply.Contains(expected, StringComparison.Ordinal)) return reply;
            await Task.Delay(100);
        }
        return reply;
    }

    [Fact]
    public async Task Sign_in_is_required_and_a_wrong_password_is_refused_on_the_page()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{_webPort}/");
        Assert.EndsWith("/login", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#name", "operator1");
        await page.FillAsync("#password", "not-the-password");
        await page.ClickAsync("#signin");
        Assert.Equal("Wrong name or password.", (await page.Locator("#message").InnerTextAsync()).Trim());
        await Shot(page, "sign-in-refused");

        await page.FillAsync("#name", "operator1");
        await page.FillAsync("#password", OperatorPassword);
        await page.ClickAsync("#signin");
        await page.Locator(".tile[data-device='100']").WaitForAsync(Within());
        Assert.Contains("Reception", await page.Locator(".tile[data-device='100'] .name").InnerTextAsync(), StringComparison.Ordinal);
        // A name with markup is shown as text.
        Assert.Equal("Sales <b>desk</b>", await page.Locator(".tile[data-device='101'] .name").InnerTextAsync());
        Assert.Equal("operator1 (operator)", await page.Locator("#who").InnerTextAsync());
        // The IP port is open to any origin by default: the console says so.
        Assert.True(await page.Locator("#banner").IsVisibleAsync());
        await Shot(page, "signed-in-console");
    }

    [Fact]
    public async Task Clicking_a_tile_dials_it_from_my_phone()
    {
        var page = await SignedInPageAsync("100");
        await page.ClickAsync(".tile[data-device='102'] .name");
        var status = await WaitForStatusAsync("102", "alerting");
        Assert.Matches(@"^200 Status 102: reachable; off; calls: \d+=alerting:100", status);
        // The lamp follows through the WebSocket, and the call timer runs.
        await page.Locator(".tile[data-device='102'][data-lamp='ringing']").WaitForAsync(Within());
        await page.Locator(".tile[data-device='100'][data-lamp='talking'] .timer").WaitForAsync(Within());
        await Shot(page, "click-to-dial");

        // Typing a number dials it too (once the first call is over).
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "Drop 100"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='100'][data-lamp='idle']").WaitForAsync(Within());
        await page.FillAsync("#number", "103");
        await page.ClickAsync("#dialbtn");
        Assert.Contains("alerting:100", await WaitForStatusAsync("103", "alerting"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dragging_a_call_onto_a_tile_transfers_it_there()
    {
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "MakeCall 104 105"), StringComparison.Ordinal);
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "Answer 105"), StringComparison.Ordinal);
        var page = await SignedInPageAsync("100");
        var call = page.Locator(".tile[data-device='105'] .call");
        await call.WaitForAsync(Within());
        await call.DragToAsync(page.Locator(".tile[data-device='103']"));
        var status = await WaitForStatusAsync("103", "alerting");
        Assert.Matches(@"^200 Status 103: reachable; off; calls: \d+=alerting:104", status);
        Assert.EndsWith("idle", await WebSignIn.IpCommandAsync(_host, "Status 105"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='103'][data-lamp='ringing']").WaitForAsync(Within());
        await Shot(page, "drag-to-transfer");
    }

    [Fact]
    public async Task Clicking_a_ringing_tile_picks_the_call_up_at_my_phone()
    {
        var page = await SignedInPageAsync("100");
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "MakeCall 102 105"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='105'][data-lamp='ringing']").WaitForAsync(Within());
        await page.ClickAsync(".tile[data-device='105'] .ext");
        Assert.Matches(@"^200 Status 100: reachable; off; calls: \d+=connected:102", await WaitForStatusAsync("100", "connected"));
        Assert.EndsWith("105: reachable; off; idle", await WebSignIn.IpCommandAsync(_host, "Status 105"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='100'][data-lamp='talking']").WaitForAsync(Within());
        await Shot(page, "pickup");
    }

    [Fact]
    public async Task After_the_event_stream_drops_the_console_resumes_after_the_last_event_it_saw()
    {
        var page = await SignedInPageAsync("100");
        var sockets = new List<string>();
        page.WebSocket += (_, ws) => { lock (sockets) sockets.Add(ws.Url); };
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "MakeCall 100 101"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='101'][data-lamp='ringing']").WaitForAsync(Within());
        var seen = await page.EvaluateAsync<long>("() => lastSeq");
        // The connection drops (as on a network change); meanwhile the call is answered.
        var hub = _host.Services.GetRequiredService<Switchboard.Telephony.CallEventHub>();
        int before = hub.SubscriberCount;
        await page.EvaluateAsync("() => socket.close()");
        // The server notices the close (the subscription ends) before the answer happens.
        for (int i = 0; i < 100 && hub.SubscriberCount >= before; i++) await Task.Delay(50);
        Assert.True(hub.SubscriberCount < before, "the server kept the closed WebSocket's subscription");
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "Answer 101"), StringComparison.Ordinal);
        for (int i = 0; i < 100; i++)
        {
            lock (sockets) if (sockets.Count > 0) break;
            await Task.Delay(50);
        }
        await page.Locator(".tile[data-device='101'][data-lamp='talking']").WaitForAsync(Within());
        lock (sockets) Assert.Contains(sockets, u => u.EndsWith($"/api/events?device=*&after={seen}", StringComparison.Ordinal));
        Assert.True(await page.EvaluateAsync<long>("() => lastSeq") > seen, "the events of the answer were not delivered after the reconnect");
    }

    [Fact]
    public async Task The_DND_switch_sets_do_not_disturb_and_the_lamp_shows_it()
    {
        var page = await SignedInPageAsync("100");
        await page.CheckAsync(".tile[data-device='101'] input.dnd");
        Assert.Contains("101: reachable; dnd; idle", await WaitForStatusAsync("101", "dnd"), StringComparison.Ordinal);
        await page.Locator(".tile[data-device='101'][data-lamp='dnd']").WaitForAsync(Within());
        await Shot(page, "dnd-switch");
        await page.UncheckAsync(".tile[data-device='101'] input.dnd");
        Assert.Contains("101: reachable; off; idle", await WaitForStatusAsync("101", "off"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_journal_shows_a_finished_call_and_finds_it_by_number()
    {
        var page = await SignedInPageAsync("100");
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "MakeCall 102 104"), StringComparison.Ordinal);
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "Answer 104"), StringComparison.Ordinal);
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "Drop 102"), StringComparison.Ordinal);
        var row = page.Locator("#journal tbody tr", new PageLocatorOptions { HasText = "Completed" });
        await row.First.WaitForAsync(Within());
        var cells = await row.First.Locator("td").AllInnerTextsAsync();
        Assert.Equal(["102", "104", "104"], cells.Skip(1).Take(3));
        Assert.Equal("Completed", cells[5]);

        await page.FillAsync("#q", "nobody-like-this");
        await page.ClickAsync("#search button");
        await page.Locator("#pageinfo", new PageLocatorOptions { HasText = "(0 calls)" }).WaitForAsync(Within());
        await page.FillAsync("#q", "104");
        await page.ClickAsync("#search button");
        await page.Locator("#journal tbody tr", new PageLocatorOptions { HasText = "Completed" }).First.WaitForAsync(Within());
        await Shot(page, "journal");
    }

    [Fact]
    public async Task On_a_phone_screen_the_tiles_and_panels_stack_in_one_column()
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 }, IsMobile = true, HasTouch = true });
        await WebSignIn.SignInAsync(page, _webPort, "operator1", OperatorPassword);
        var width = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(width <= 390, $"the page is {width} px wide on a 390 px screen");
        var journal = await page.Locator("#journal-panel").BoundingBoxAsync();
        var regs = await page.Locator("#reg-panel").BoundingBoxAsync();
        Assert.True(regs!.Y > journal!.Y + journal.Height - 1, "the panels are side by side on a phone screen");
        await Shot(page, "phone-screen");
    }

    [Fact]
    public async Task A_page_on_another_origin_can_neither_run_commands_nor_read_events_even_with_the_session_cookie()
    {
        // The foreign page is served on another port of the same host: same-site for the browser, so the Strict
        // session cookie does go along; the Origin rule and the anti-forgery header must hold the line.
        using var foreign = new HttpListener();
        int foreignPort = FreeTcpPort();
        foreign.Prefixes.Add($"http://127.0.0.1:{foreignPort}/");
        foreign.Start();
        var serving = ServeAsync(foreign, ForeignPage(_webPort));

        var page = await SignedInPageAsync("100");
        await page.GotoAsync($"http://127.0.0.1:{foreignPort}/");
        await page.WaitForFunctionAsync("() => window.__done === true", null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        var result = await page.EvaluateAsync<string>("() => JSON.stringify(window.__result)");
        Assert.Contains("\"wsMessages\":0", result, StringComparison.Ordinal);
        Assert.Contains("\"wsOpened\":false", result, StringComparison.Ordinal);
        Assert.Contains("\"readFetch\":\"failed\"", result, StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "foreign-origin.png") });
        // Neither the text/plain POST (no preflight) nor the form POST placed a call.
        Assert.EndsWith("100: reachable; off; idle", await WebSignIn.IpCommandAsync(_host, "Status 100"), StringComparison.Ordinal);
        Assert.EndsWith("105: reachable; off; idle", await WebSignIn.IpCommandAsync(_host, "Status 105"), StringComparison.Ordinal);
        foreign.Stop();
        await serving;
    }

    [Fact]
    public async Task A_page_reached_under_a_foreign_host_name_is_refused_421()
    {
        var page = await _browser.NewPageAsync();
        var response = await page.GotoAsync($"http://attacker.example:{_webPort}/login");
        Assert.Equal(421, response!.Status);
        Assert.Contains("does not answer to that Host name", await page.InnerTextAsync("body"), StringComparison.Ordinal);
        await Shot(page, "foreign-host-421");
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_webPort}/api/devices");
        request.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.MisdirectedRequest, (await http.SendAsync(request)).StatusCode);
    }

    private static string ForeignPage(int webPort) => $$"""
        <!doctype html><html><body><h1>Not the switchboard</h1>
        <form id="f" method="post" action="http://127.0.0.1:{{webPort}}/api/commands" enctype="text/plain" target="sink">
        <input name="MakeCall 105 101 x" value="1"></form><iframe name="sink"></iframe>
        <pre id="out"></pre>
        <script>
        const r = { wsMessages: 0, wsOpened: false, post: null, readFetch: null };
        window.__result = r;
        const done = () => { document.getElementById('out').textContent = JSON.stringify(r, null, 1); window.__done = true; };
        fetch('http://127.0.0.1:{{webPort}}/api/commands', { method: 'POST', mode: 'no-cors', credentials: 'include',
          headers: { 'Content-Type': 'text/plain' }, body: 'MakeCall 100 101' }).then(() => r.post = 'sent', () => r.post = 'failed');
        fetch('http://127.0.0.1:{{webPort}}/api/calls', { credentials: 'include' }).then(x => x.text()).then(() => r.readFetch = 'read', () => r.readFetch = 'failed');
        document.getElementById('f').submit();
        const ws = new WebSocket('ws://127.0.0.1:{{webPort}}/api/events?device=*&after=0');
        ws.onopen = () => r.wsOpened = true;
        ws.onmessage = () => r.wsMessages++;
        ws.onclose = () => setTimeout(done, 1500);
        </script></body></html>
        """;

    private static async Task ServeAsync(HttpListener listener, string html)
    {
        try
        {
            while (listener.IsListening)
            {
                var ctx = await listener.GetContextAsync();
                var bytes = Encoding.UTF8.GetBytes(html);
                ctx.Response.ContentType = "text/html; charset=utf-8";
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private static int FreeTcpPort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
