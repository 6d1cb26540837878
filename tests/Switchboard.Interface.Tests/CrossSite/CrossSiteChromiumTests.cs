using System.Globalization;
using Microsoft.Playwright;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests.CrossSite;

/// <summary>
/// Click-to-dial CSRF in a real Chromium (Debian's /usr/bin/chromium driven by Playwright): a page of another web site
/// (a second local server, opened as http://localhost:P so it is cross-site to the IP port on 127.0.0.1) tries a link
/// click, an &lt;img&gt; and a fetch() from a sandboxed iframe (Origin: null) against the IP port with
/// Access:AllowedOrigins set. Each is refused with a 403 naming the rule and Status shows no call; the same page from
/// the listed origin does place a call, which shows the browser really sent the requests. Screenshots go to
/// screenshots/ beside the test assembly.
/// </summary>
public sealed class CrossSiteChromiumTests : IAsyncLifetime
{
    private static readonly string ScreenshotDir = Path.Combine(AppContext.BaseDirectory, "screenshots");
    private PageServer _listedSite = null!;
    private PageServer _foreignSite = null!;
    private TestServer _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>The attacking page: a link, an image and a sandboxed iframe that fetches, each dialling a different pair.</summary>
    private string Page(string title) => $$"""
        <!doctype html><html><head><meta charset="utf-8"><title>{{title}}</title></head><body>
        <h1>{{title}}</h1>
        <p><a id="link" href="http://127.0.0.1:{{P(_server.EndPoint.Port)}}/MakeCall%20100%20101">Call 101</a></p>
        <p>Image: <img id="img" alt="img" src="http://127.0.0.1:{{P(_server.EndPoint.Port)}}/MakeCall%20102%20103"></p>
        <iframe id="box" sandbox="allow-scripts" srcdoc="<script>fetch('http://127.0.0.1:{{P(_server.EndPoint.Port)}}/MakeCall%20104%20105').then(r => r.text().then(t => parent.postMessage('fetch ' + r.status + ': ' + t, '*'))).catch(e => parent.postMessage('fetch error: ' + e, '*'))</script>"></iframe>
        <pre id="out"></pre>
        <script>addEventListener('message', e => { document.getElementById('out').textContent = e.data; });</script>
        </body></html>
        """;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _listedSite = new PageServer(_ => Page("CRM (listed origin)"));
        _foreignSite = new PageServer(_ => Page("Some other web site"));
        _server = await TestServer.StartAsync(c => c.Access.AllowedOrigins = [$"http://127.0.0.1:{P(_listedSite.Port)}"]);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox"],
        });
        Directory.CreateDirectory(ScreenshotDir);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _server.DisposeAsync();
        await _foreignSite.DisposeAsync();
        await _listedSite.DisposeAsync();
    }

    private sealed record Seen(string Url, int Status, string? Rule);

    private static List<Seen> Record(IPage page, int ipPort)
    {
        var seen = new List<Seen>();
        page.Response += (_, r) =>
        {
            if (!r.Url.StartsWith($"http://127.0.0.1:{P(ipPort)}/", StringComparison.Ordinal)) return;
            lock (seen) seen.Add(new Seen(Uri.UnescapeDataString(r.Url), r.Status, r.Headers.GetValueOrDefault("x-switchboard-refused")));
        };
        return seen;
    }

    private static async Task<Seen> WaitForAsync(List<Seen> seen, string command)
    {
        return await Poll.UntilAsync(() =>
        {
            lock (seen) return Task.FromResult(seen.FirstOrDefault(s => s.Url.EndsWith("/" + command, StringComparison.Ordinal)));
        }, s => s is not null, $"Chromium sends {command}") ?? throw new InvalidOperationException("unreachable");
    }

    [Fact]
    public async Task A_foreign_pages_link_image_and_sandboxed_fetch_are_refused_and_place_no_call()
    {
        var page = await _browser.NewPageAsync();
        var seen = Record(page, _server.EndPoint.Port);
        await page.GotoAsync($"http://localhost:{P(_foreignSite.Port)}/");

        var image = await WaitForAsync(seen, "MakeCall 102 103");
        Assert.Equal(403, image.Status);
        Assert.Equal("foreign-referer", image.Rule);

        // The sandboxed frame's fetch carries Origin: null; the refusal is readable to it, so it can show why.
        await page.Locator("#out").Filter(new LocatorFilterOptions { HasText = "fetch" }).WaitForAsync();
        var fetched = await page.Locator("#out").InnerTextAsync();
        Assert.StartsWith("fetch 403: 403 refused by Access:AllowedOrigins (opaque-origin)", fetched);
        Assert.Contains("Origin: null", fetched);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, "csrf-foreign-page.png"), FullPage = true });

        await page.ClickAsync("#link");
        await page.WaitForURLAsync($"http://127.0.0.1:{P(_server.EndPoint.Port)}/**");
        var link = await WaitForAsync(seen, "MakeCall 100 101");
        Assert.Equal(403, link.Status);
        Assert.Equal("foreign-referer", link.Rule);
        var shown = await page.Locator("body").InnerTextAsync();
        Assert.Contains($"a link or form navigation (Sec-Fetch-Site: cross-site) from a page on http://localhost:{P(_foreignSite.Port)} (Referer)", shown);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, "csrf-foreign-link-refused.png") });

        foreach (var device in new[] { "100", "101", "102", "103", "104", "105" })
            Assert.Contains("; idle", await _server.StatusAsync(device));
    }

    [Fact]
    public async Task The_same_page_from_the_listed_origin_places_calls_but_its_sandboxed_fetch_is_still_refused()
    {
        var page = await _browser.NewPageAsync();
        var seen = Record(page, _server.EndPoint.Port);
        await page.GotoAsync($"http://127.0.0.1:{P(_listedSite.Port)}/");

        var image = await WaitForAsync(seen, "MakeCall 102 103");
        Assert.Equal(204, image.Status);
        await _server.WaitForStatusAsync("103", s => s.Contains("=alerting:102"), "ringing from the listed page's image");

        await page.Locator("#out").Filter(new LocatorFilterOptions { HasText = "fetch" }).WaitForAsync();
        Assert.StartsWith("fetch 403: 403 refused by Access:AllowedOrigins (opaque-origin)", await page.Locator("#out").InnerTextAsync());
        Assert.Contains("; idle", await _server.StatusAsync("104"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, "csrf-listed-page.png"), FullPage = true });

        // 204: the browser stays on the page, and a Playwright click would wait for a navigation that never commits.
        await page.EvalOnSelectorAsync("#link", "a => a.click()");
        var link = await WaitForAsync(seen, "MakeCall 100 101");
        Assert.Equal(204, link.Status);
        await _server.WaitForStatusAsync("101", s => s.Contains("=alerting:100"), "ringing from the listed page's link");
    }
}
