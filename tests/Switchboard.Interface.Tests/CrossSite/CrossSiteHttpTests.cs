using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests.CrossSite;

/// <summary>The judge on the wire: the IP port's HTTP with Access:AllowedOrigins set, requests as browsers send them.</summary>
public sealed class CrossSiteHttpTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private LineClient _http = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(c => c.Access.AllowedOrigins = ["https://crm.example.com"]);
        _http = await _server.ConnectAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _http.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_foreign_image_is_refused_403_naming_the_rule_and_places_no_call()
    {
        var r = await _http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"),
            "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: image", "Referer: https://evil.example/");
        Assert.Equal(403, r.Status);
        Assert.Equal("foreign-referer", r.Header("X-Switchboard-Refused"));
        Assert.StartsWith("403 refused by Access:AllowedOrigins (foreign-referer): an image (Sec-Fetch-Site: cross-site) from a page on https://evil.example", r.Body);
        Assert.Contains("; idle", await _server.StatusAsync("100"));
    }

    [Fact]
    public async Task Origin_null_is_refused_with_a_reply_the_page_can_read()
    {
        var r = await _http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"),
            "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: cors", "Sec-Fetch-Dest: empty", "Origin: null");
        Assert.Equal(403, r.Status);
        Assert.Equal("opaque-origin", r.Header("X-Switchboard-Refused"));
        Assert.Equal("null", r.Header("Access-Control-Allow-Origin"));
        Assert.Contains("Origin: null (a file:// page", r.Body);
        Assert.Contains("; idle", await _server.StatusAsync("100"));
    }

    [Fact]
    public async Task A_tool_and_a_listed_page_still_place_calls()
    {
        Assert.Equal(204, (await _http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"))).Status);
        var listed = await _http.RequestAsync("GET", Http.PathOf("MakeCall 102 103"),
            "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document", "Referer: https://crm.example.com/contact/5");
        Assert.Equal(204, listed.Status);
        await _server.WaitForStatusAsync("103", s => s.Contains("=alerting:102"), "ringing");
    }

    [Fact]
    public async Task A_Private_Network_Access_preflight_is_answered_for_a_listed_origin_only()
    {
        var ok = await _http.RequestAsync("OPTIONS", Http.PathOf("MakeCall 100 101"), "Origin: https://crm.example.com",
            "Access-Control-Request-Method: GET", "Access-Control-Request-Private-Network: true");
        Assert.Equal(204, ok.Status);
        Assert.Equal("true", ok.Header("Access-Control-Allow-Private-Network"));
        Assert.Equal("https://crm.example.com", ok.Header("Access-Control-Allow-Origin"));

        var foreign = await _http.RequestAsync("OPTIONS", Http.PathOf("MakeCall 100 101"), "Origin: https://evil.example",
            "Access-Control-Request-Method: GET", "Access-Control-Request-Private-Network: true");
        Assert.Null(foreign.Header("Access-Control-Allow-Private-Network"));
        Assert.Null(foreign.Header("Access-Control-Allow-Origin"));
        Assert.Contains("; idle", await _server.StatusAsync("100"));
    }

    [Fact]
    public async Task Without_a_list_a_file_page_still_dials_as_before_and_can_now_read_the_reply()
    {
        await using var open = await TestServer.StartAsync();
        Assert.True(open.Interpreter.Access.OpenToAllOrigins);
        await using var http = await open.ConnectAsync();
        var r = await http.RequestAsync("GET", Http.PathOf("MakeCall 100 101"),
            "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: cors", "Sec-Fetch-Dest: empty", "Origin: null");
        Assert.Equal(204, r.Status);
        Assert.Equal("null", r.Header("Access-Control-Allow-Origin"));
        await open.WaitForStatusAsync("101", s => s.Contains("=alerting:100"), "ringing");
    }
}
