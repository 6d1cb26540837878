using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>HTTP on the stream port (DESIGN.md §1): statuses, keep-alive, HEAD, CORS, help page, decoding.</summary>
public sealed class HttpTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private LineClient _http = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _http = await _server.ConnectAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _http.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Success_is_204_without_a_body_so_the_browser_stays_on_its_page()
    {
        var r = await _http.RequestAsync("GET", "/Makecall%20100%20102");
        Assert.Equal(204, r.Status);
        Assert.Equal("", r.Body);
        Assert.Null(r.Header("Content-Length"));
        await _server.WaitForStatusAsync("102", s => s.Contains("=alerting:100"), "ringing");
    }

    [Fact]
    public async Task Failure_is_the_reply_code_with_the_reply_line_as_plain_text()
    {
        var r = await _http.RequestAsync("GET", "/Answer%20100");
        Assert.Equal(409, r.Status);
        Assert.StartsWith("text/plain", r.Header("Content-Type"));
        Assert.Equal("409 Answer 100: no ringing call at 100\r\n", r.Body);

        var bad = await _http.RequestAsync("GET", "/Hello");
        Assert.Equal(400, bad.Status);
        Assert.Contains("unknown command 'Hello'", bad.Body);
    }

    [Fact]
    public async Task Keep_alive_serves_several_requests_on_one_connection()
    {
        Assert.Equal(204, (await _http.RequestAsync("GET", "/MakeCall%20100%20101")).Status);
        Assert.Equal(204, (await _http.RequestAsync("GET", "/Answer%20101", "Connection: keep-alive")).Status);
        await _server.WaitForStatusAsync("100", s => s.Contains("=connected:101"), "connected");
        Assert.Null((await _http.RequestAsync("GET", "/Status%20100")).Header("Connection"));
    }

    [Fact]
    public async Task Connection_close_and_HTTP_1_0_end_the_connection_after_the_response()
    {
        var r = await _http.RequestAsync("GET", "/Status%20100", "Connection: close");
        Assert.Equal(204, r.Status);
        Assert.Equal("close", r.Header("Connection"));
        Assert.Empty(await _http.ReadToEndAsync());

        await using var old = await _server.ConnectAsync();
        await old.SendAsync("GET /Status%20100 HTTP/1.0\r\n\r\n");
        Assert.Equal(204, (await old.ReadResponseAsync())!.Status);
        Assert.Empty(await old.ReadToEndAsync());
    }

    [Fact]
    public async Task HEAD_checks_the_command_but_does_not_execute_it()
    {
        var r = await _http.RequestAsync("HEAD", "/MakeCall%20100%20101");
        Assert.Equal(204, r.Status);
        var bad = await _http.RequestAsync("HEAD", "/MakeCall%20100");
        Assert.Equal(400, bad.Status);
        Assert.Equal("", bad.Body);
        // The connection still works after a HEAD response with Content-Length but no body.
        Assert.Equal(204, (await _http.RequestAsync("GET", "/Status%20100")).Status);
        Assert.Contains("; idle", await _server.StatusAsync("100"));
        Assert.Contains("; idle", await _server.StatusAsync("101"));
    }

    [Fact]
    public async Task OPTIONS_preflight_allows_the_origin_and_does_not_execute()
    {
        var r = await _http.RequestAsync("OPTIONS", "/MakeCall%20100%20101",
            "Origin: https://crm.example.com", "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: x-requested-with");
        Assert.Equal(204, r.Status);
        Assert.Equal("https://crm.example.com", r.Header("Access-Control-Allow-Origin"));
        Assert.Contains("GET", r.Header("Access-Control-Allow-Methods"));
        Assert.Equal("x-requested-with", r.Header("Access-Control-Allow-Headers"));

        var get = await _http.RequestAsync("GET", "/MakeCall%20100%20101", "Origin: https://crm.example.com");
        Assert.Equal(204, get.Status);
        Assert.Equal("https://crm.example.com", get.Header("Access-Control-Allow-Origin"));
        Assert.Contains("X-Switchboard-Reply", get.Header("Access-Control-Expose-Headers"));
    }

    [Fact]
    public async Task The_root_is_a_help_page_and_favicon_is_404()
    {
        var help = await _http.RequestAsync("GET", "/");
        Assert.Equal(200, help.Status);
        Assert.StartsWith("text/html", help.Header("Content-Type"));
        Assert.Contains("Switchboard IP interface", help.Body);
        Assert.Contains("MakeCall", help.Body);

        var icon = await _http.RequestAsync("GET", "/favicon.ico");
        Assert.Equal(404, icon.Status);
        Assert.Contains("not a command", icon.Body);
    }

    [Fact]
    public async Task The_path_is_percent_decoded_and_plus_stays_plus()
    {
        var r = await _http.RequestAsync("GET", "/MakeCall%20100%20+49%20(89)%20123-4567");
        Assert.Equal(204, r.Status);
        Assert.Contains("+49891234567", r.Header("X-Switchboard-Reply"));
        await _server.WaitForStatusAsync("100", s => s.Contains("=connected:+49891234567"), "connected to +49891234567");
    }

    [Fact]
    public async Task Other_methods_get_405()
    {
        var r = await _http.RequestAsync("POST", "/MakeCall%20100%20101", "Content-Length: 0");
        Assert.Equal(405, r.Status);
        Assert.Contains("GET, HEAD, OPTIONS", r.Header("Allow"));
        Assert.Contains("; idle", await _server.StatusAsync("100"));
    }
}
