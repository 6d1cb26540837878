using Switchboard.Interface.Access;

namespace Switchboard.Interface.Tests.CrossSite;

/// <summary>The judge of HTTP commands on its own: what a browser sends for each kind of request, and the verdict.</summary>
public sealed class CrossSiteJudgeTests
{
    private static readonly CrossSiteJudge Listed = new(["https://crm.example.com", "http://10.0.0.5:8080/"]);

    private static BrowserRequestHeaders B(string? site = null, string? mode = null, string? dest = null,
        string? origin = null, string? referer = null, string? host = "10.0.0.1:2503") => new(site, mode, dest, origin, referer, host);

    [Fact]
    public void Without_a_list_everything_is_allowed_and_the_policy_says_it_is_open()
    {
        var open = new CrossSiteJudge([]);
        Assert.True(open.IsOpen);
        Assert.True(open.Judge(B("cross-site", "no-cors", "image", referer: "https://evil.example/")).IsAllowed);
        Assert.True(open.Judge(B("cross-site", "cors", "empty", origin: "null")).IsAllowed);
        Assert.True(open.MayRead("null"));
        Assert.True(new AccessPolicy(new AccessOptions()).OpenToAllOrigins);
        Assert.False(new AccessPolicy(new AccessOptions { AllowedOrigins = ["https://crm.example.com"] }).OpenToAllOrigins);
    }

    [Fact]
    public void A_tool_without_browser_headers_keeps_working()
    {
        Assert.True(Listed.Judge(B()).IsAllowed);
        Assert.True(Listed.Judge(B(host: null)).IsAllowed);
    }

    [Fact]
    public void A_cross_site_link_click_carries_only_Fetch_Metadata_and_a_Referer_and_is_refused()
    {
        var v = Listed.Judge(B("cross-site", "navigate", "document", referer: "https://evil.example/page.html"));
        Assert.Equal(CrossSiteRefusal.ForeignReferer, v.Refusal);
        Assert.Equal("foreign-referer", v.RuleName);
        Assert.Contains("a link or form navigation (Sec-Fetch-Site: cross-site) from a page on https://evil.example (Referer)", v.Text);
        Assert.Contains("not in Access:AllowedOrigins", v.Text);
    }

    [Fact]
    public void A_cross_site_image_is_refused_naming_it_an_image()
    {
        var v = Listed.Judge(B("same-site", "no-cors", "image", referer: "http://10.0.0.1:9999/"));
        Assert.Equal(CrossSiteRefusal.ForeignReferer, v.Refusal);
        Assert.StartsWith("an image (Sec-Fetch-Site: same-site)", v.Text);
    }

    [Fact]
    public void A_cross_site_request_with_no_referer_cannot_be_attributed_and_is_refused()
    {
        var v = Listed.Judge(B("cross-site", "no-cors", "image"));
        Assert.Equal(CrossSiteRefusal.UnattributedCrossSite, v.Refusal);
        Assert.Contains("without Origin or Referer", v.Text);
    }

    [Fact]
    public void Origin_null_is_refused_and_not_taken_for_no_origin()
    {
        var fetch = Listed.Judge(B("cross-site", "cors", "empty", origin: "null"));
        Assert.Equal(CrossSiteRefusal.OpaqueOrigin, fetch.Refusal);
        Assert.Contains("Origin: null (a file:// page, a sandboxed iframe or a data: URL)", fetch.Text);
        // An old browser without Fetch Metadata: Origin null alone is still not "no origin".
        Assert.Equal(CrossSiteRefusal.OpaqueOrigin, Listed.Judge(B(origin: "null")).Refusal);
        Assert.False(Listed.MayRead("null"));
    }

    [Fact]
    public void A_listed_origin_is_allowed_by_Origin_or_by_Referer_whatever_the_element()
    {
        Assert.True(Listed.Judge(B("cross-site", "cors", "empty", origin: "https://crm.example.com")).IsAllowed);
        Assert.True(Listed.Judge(B("cross-site", "cors", "empty", origin: "HTTPS://CRM.example.com:443")).IsAllowed);
        Assert.True(Listed.Judge(B("cross-site", "navigate", "document", referer: "https://crm.example.com/contacts/17?x=1")).IsAllowed);
        Assert.True(Listed.Judge(B("same-site", "no-cors", "image", referer: "http://10.0.0.5:8080/dial")).IsAllowed);
        Assert.True(Listed.MayRead("https://crm.example.com"));
        // Browsers send an international name in its punycode form.
        Assert.True(new CrossSiteJudge(["https://bücher.example"]).Judge(B("cross-site", "cors", "empty", origin: "https://xn--bcher-kva.example")).IsAllowed);
    }

    [Fact]
    public void Origin_is_judged_before_Referer()
    {
        var v = Listed.Judge(B("cross-site", "cors", "empty", origin: "https://evil.example", referer: "https://crm.example.com/"));
        Assert.Equal(CrossSiteRefusal.ForeignOrigin, v.Refusal);
        Assert.Contains("origin https://evil.example is not in Access:AllowedOrigins", v.Text);
    }

    [Fact]
    public void A_request_the_user_typed_into_the_address_bar_is_allowed()
    {
        Assert.True(Listed.Judge(B("none", "navigate", "document")).IsAllowed);
        // "none" from something other than a navigation (an extension's fetch) must still name a listed origin.
        Assert.False(Listed.Judge(B("none", "cors", "empty", origin: "chrome-extension://abc")).IsAllowed);
    }

    [Fact]
    public void A_same_origin_page_of_this_port_is_allowed_by_address_but_not_under_an_unlisted_name()
    {
        Assert.True(Listed.Judge(B("same-origin", "navigate", "document", referer: "http://10.0.0.1:2503/", host: "10.0.0.1:2503")).IsAllowed);
        Assert.True(Listed.Judge(B("same-origin", "cors", "empty", host: "[::1]:2503")).IsAllowed);
        Assert.True(Listed.Judge(B("same-origin", "cors", "empty", host: "localhost:2503")).IsAllowed);
        var rebound = Listed.Judge(B("same-origin", "cors", "empty", referer: "http://evil.example:2503/", host: "evil.example:2503"));
        Assert.Equal(CrossSiteRefusal.UnlistedHostName, rebound.Refusal);
        Assert.Contains("DNS rebinding", rebound.Text);
        Assert.Equal(CrossSiteRefusal.UnlistedHostName, Listed.Judge(B("same-origin", "cors", "empty", host: "10.0.0.1.nip.io:2503")).Refusal);
    }

    [Fact]
    public void Garbage_in_Origin_or_Referer_is_refused_as_malformed_and_clipped_in_the_text()
    {
        var v = Listed.Judge(B("cross-site", "cors", "empty", origin: "not a url\u0001"));
        Assert.Equal(CrossSiteRefusal.MalformedOrigin, v.Refusal);
        Assert.DoesNotContain("\u0001", v.Text!, StringComparison.Ordinal);
        var longReferer = "https://crm.example.com/" + new string('a', CrossSiteJudge.MaxUrlLength);
        Assert.Equal(CrossSiteRefusal.MalformedOrigin, Listed.Judge(B("cross-site", "navigate", "document", referer: longReferer)).Refusal);
        Assert.Equal(CrossSiteRefusal.MalformedOrigin, Listed.Judge(B("cross-site", "cors", "empty", origin: "https://crm.example.com/path")).Refusal);
        Assert.True(Listed.Judge(B("cross-site", "navigate", "document", referer: "ftp://crm.example.com/")).Refusal == CrossSiteRefusal.MalformedOrigin);
    }

    [Theory]
    [InlineData("HTTP://Example.COM:80/contacts?id=1#x", "http://example.com")]
    [InlineData("https://crm.example.com:0443/", "https://crm.example.com")]
    [InlineData("https://crm.example.com:8443", "https://crm.example.com:8443")]
    [InlineData("http://[::1]:2503/page", "http://[::1]:2503")]
    [InlineData("http://10.0.0.5:8080?x", "http://10.0.0.5:8080")]
    [InlineData("http://bücher.example/", "http://xn--bcher-kva.example")]
    [InlineData("http://crm.example.com:/", "http://crm.example.com")]
    [InlineData("http://user@crm.example.com/", null)]
    [InlineData("http://crm.example.com:65536/", null)]
    [InlineData("http://crm.example.com:8o/", null)]
    [InlineData("http://crm example.com/", null)]
    [InlineData("http:///path", null)]
    [InlineData("http://[::1/", null)]
    [InlineData("javascript:alert(1)", null)]
    public void The_origin_of_a_Referer_is_serialised_as_a_browser_does(string url, string? origin)
    {
        Assert.Equal(origin, CrossSiteJudge.NormaliseOrigin(url, pathAllowed: true));
    }

    [Fact]
    public void A_configured_entry_that_is_not_an_origin_stops_the_start()
    {
        var ex = Assert.Throws<FormatException>(() => new CrossSiteJudge(["crm.example.com"]));
        Assert.Contains("Access:AllowedOrigins: 'crm.example.com' is not an origin", ex.Message);
    }

    [Fact]
    public void Random_bytes_in_every_header_never_throw_and_never_pass_without_a_listed_origin()
    {
        var random = new Random(1404);
        string? Junk()
        {
            if (random.Next(5) == 0) return null;
            var chars = new char[random.Next(0, 300)];
            for (int i = 0; i < chars.Length; i++) chars[i] = (char)random.Next(0, 256);
            return random.Next(4) == 0 ? "https://" + new string(chars) : new string(chars);
        }
        for (int i = 0; i < 5_000; i++)
        {
            var h = new BrowserRequestHeaders(random.Next(3) == 0 ? "cross-site" : Junk(), Junk(), Junk(), Junk(), Junk(), Junk());
            var v = Listed.Judge(h);
            if (v.IsAllowed && h.SecFetchSite is "cross-site" or "same-site") Assert.Fail($"allowed: {h}");
            if (!v.IsAllowed) Assert.All(v.Text!, c => Assert.InRange(c, ' ', '~'));
        }
    }
}
