using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Accounts;
using Switchboard.Web;

namespace Switchboard.Tests;

/// <summary>
/// Sign-in, tokens, roles and the request checks of the web port over real sockets, against the server with the
/// SIMULATED phone system (a fake phone system; the web port in front of it is the real one).
/// </summary>
public sealed partial class WebAuthTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-webauth-").FullName;
    private IHost _host = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        _host = await SimulatedHost.StartAsync(_dir, new Dictionary<string, string?>
        {
            ["Web:LoginAttemptsPerMinute"] = "5",
            ["Users:agent7:Extensions:0"] = "101",
        });
        _port = _host.Services.GetRequiredService<CtiWebServer>().Port;
        WebSignIn.Accounts(_host).CreateUser("operator1", AccountRole.Operator, [], "operator-password");
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private Uri Base => new($"http://127.0.0.1:{_port}");

    private HttpClient Anonymous(CookieContainer? cookies = null) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies ?? new CookieContainer(), UseCookies = true }) { BaseAddress = Base };

    /// <summary>Signs in through the form as the browser does; returns the client (with the cookie) and the anti-forgery token.</summary>
    private async Task<(HttpClient Http, string Csrf)> SignInAsync(string name, string password)
    {
        var http = Anonymous();
        var csrf = FormToken().Match(await http.GetStringAsync("/login")).Groups[1].Value;
        using var post = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent([new("csrf", csrf), new("name", name), new("password", password)]),
        };
        post.Headers.Add("Origin", Base.ToString().TrimEnd('/'));
        var signedIn = await http.SendAsync(post);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        var session = await http.GetFromJsonAsync<JsonElement>("/api/session");
        return (http, session.GetProperty("csrf").GetString()!);
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();

    private Task<string> Status(string device) => WebSignIn.IpCommandAsync(_host, "Status " + device);

    [Fact]
    public async Task Without_a_sign_in_the_api_the_console_and_the_event_stream_are_refused()
    {
        using var http = Anonymous();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/devices")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/calls")).StatusCode);
        var post = await http.PostAsync("/api/commands", new StringContent("MakeCall 100 101"));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        Assert.EndsWith("100: reachable; off; idle", await Status("100"), StringComparison.Ordinal);
        var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/login", page.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/login")).StatusCode);
        // /metrics from loopback is not held back by the sign-in (ops maps it; 404 until then).
        Assert.NotEqual(HttpStatusCode.Unauthorized, (await http.GetAsync("/metrics")).StatusCode);

        using var ws = new ClientWebSocket();
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(new Uri($"ws://127.0.0.1:{_port}/api/events?after=0"), CancellationToken.None));
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);

        using var badToken = Anonymous();
        badToken.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sbt_not-a-real-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await badToken.GetAsync("/api/devices")).StatusCode);
    }

    [Fact]
    public async Task A_signed_in_command_needs_the_anti_forgery_header_and_a_cross_origin_text_plain_post_fails()
    {
        var (http, csrf) = await SignInAsync("operator1", "operator-password");
        using (http)
        {
            // What a foreign page's form or no-cors fetch sends: the cookie (same site), text/plain, its own Origin.
            using var foreign = new HttpRequestMessage(HttpMethod.Post, "/api/commands") { Content = new StringContent("MakeCall 100 101") };
            foreign.Headers.Add("Origin", "http://127.0.0.1:9");
            var refused = await http.SendAsync(foreign);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("Origin is not this server", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            // Even with the token a foreign origin cannot have, a foreign Origin stays refused; and Origin null too.
            using var nullOrigin = new HttpRequestMessage(HttpMethod.Post, "/api/commands") { Content = new StringContent("MakeCall 100 101") };
            nullOrigin.Headers.Add("Origin", "null");
            nullOrigin.Headers.Add("X-CSRF-Token", csrf);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(nullOrigin)).StatusCode);
            // A same-site image or script include of the API (no Origin, labelled by the browser) is refused; a link
            // followed to the console page is not.
            using var image = new HttpRequestMessage(HttpMethod.Get, "/api/calls");
            image.Headers.Add("Sec-Fetch-Site", "same-site");
            image.Headers.Add("Sec-Fetch-Mode", "no-cors");
            image.Headers.Add("Sec-Fetch-Dest", "image");
            Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(image)).StatusCode);
            using var link = new HttpRequestMessage(HttpMethod.Get, "/");
            link.Headers.Add("Sec-Fetch-Site", "same-site");
            link.Headers.Add("Sec-Fetch-Mode", "navigate");
            link.Headers.Add("Sec-Fetch-Dest", "document");
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(link)).StatusCode);
            // No Origin and no anti-forgery header: refused as well.
            var bare = await http.PostAsync("/api/commands", new StringContent("MakeCall 100 101"));
            Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);
            Assert.Contains("X-CSRF-Token", await bare.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.EndsWith("100: reachable; off; idle", await Status("100"), StringComparison.Ordinal);

            using var own = new HttpRequestMessage(HttpMethod.Post, "/api/commands") { Content = new StringContent("MakeCall 100 101") };
            own.Headers.Add("Origin", Base.ToString().TrimEnd('/'));
            own.Headers.Add("X-CSRF-Token", csrf);
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(own)).StatusCode);
            Assert.Contains("alerting:100", await Status("101"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_new_password_ends_the_sign_ins_made_with_the_old_one()
    {
        var (http, _) = await SignInAsync("operator1", "operator-password");
        using (http)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/devices")).StatusCode);
            Assert.Equal(AccountError.None, WebSignIn.Accounts(_host).SetPassword("operator1", "a-new-password"));
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/devices")).StatusCode);
        }
        var (again, _) = await SignInAsync("operator1", "a-new-password");
        using (again) Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/api/devices")).StatusCode);
    }

    [Fact]
    public async Task The_event_stream_checks_the_origin_as_well_as_the_token()
    {
        var token = WebSignIn.CreateToken(WebSignIn.Accounts(_host), AccountRole.Operator);
        using var foreign = new ClientWebSocket();
        foreign.Options.SetRequestHeader("Authorization", "Bearer " + token);
        foreign.Options.SetRequestHeader("Origin", "http://attacker.example");
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => foreign.ConnectAsync(new Uri($"ws://127.0.0.1:{_port}/api/events?after=0"), CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        using var own = new ClientWebSocket();
        own.Options.SetRequestHeader("Authorization", "Bearer " + token);
        await own.ConnectAsync(new Uri($"ws://127.0.0.1:{_port}/api/events?after=0"), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, own.State);
    }

    [Fact]
    public async Task Sign_in_attempts_over_the_limit_get_429_even_with_the_right_password()
    {
        using var http = Anonymous();
        var csrf = FormToken().Match(await http.GetStringAsync("/login")).Groups[1].Value;
        var codes = new List<HttpStatusCode>();
        for (int i = 0; i < 6; i++)
        {
            var password = i < 5 ? "wrong-password" : "operator-password";
            var r = await http.PostAsync("/login", new FormUrlEncodedContent([new("csrf", csrf), new("name", "operator1"), new("password", password)]));
            codes.Add(r.StatusCode);
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), HttpStatusCode.TooManyRequests], codes);
    }

    [Fact]
    public async Task An_account_of_role_user_sees_and_controls_only_its_own_extensions()
    {
        var accounts = WebSignIn.Accounts(_host);
        // Stored with 100, but Users:agent7:Extensions in the configuration says 101: the configuration wins.
        Assert.Equal(AccountError.None, accounts.CreateUser("agent7", AccountRole.User, ["100"], "agent-password"));
        var (token, _) = accounts.CreateToken("agent7", "agent7's CRM", AccountRole.User);
        using var http = Anonymous();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var devices = await http.GetFromJsonAsync<JsonElement>("/api/devices");
        Assert.Equal(["101"], devices.EnumerateArray().Select(d => d.GetProperty("device").GetString()));
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("/api/devices/100")).StatusCode);
        var other = await http.PostAsync("/api/commands", new StringContent("MakeCall 100 101"));
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Contains("may control only its own extensions (101)", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync("/api/commands", new StringContent("Pickup 101 102"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/commands", new StringContent("MakeCall 101 102"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("/api/users")).StatusCode);

        // A call between two other extensions is not in this account's journal.
        Assert.StartsWith("200", await WebSignIn.IpCommandAsync(_host, "MakeCall 104 105"), StringComparison.Ordinal);
        var journal = await http.GetFromJsonAsync<JsonElement>("/api/journal");
        Assert.Equal(1, journal.GetProperty("total").GetInt32());
        Assert.Equal("101", journal.GetProperty("items")[0].GetProperty("calling").GetString());

        using var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(new Uri($"ws://127.0.0.1:{_port}/api/events?device=104"), CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_acts_with_at_most_its_owners_role_and_revoked_tokens_stop_working()
    {
        var accounts = WebSignIn.Accounts(_host);
        Assert.Equal(AccountError.RoleAboveOwner, accounts.CreateToken("operator1", "too much", AccountRole.Admin).Error);
        using var admin = WebSignIn.Client(_host);
        var created = await admin.PostAsJsonAsync("/api/tokens", new { label = "crm", role = "operator", owner = "operator1" });
        var token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var crm = Anonymous();
        crm.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, (await crm.GetAsync("/api/devices")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await crm.GetAsync("/api/tokens")).StatusCode);

        var id = accounts.Tokens().Single(t => t.Label == "crm").Id;
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"/api/tokens/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await crm.GetAsync("/api/devices")).StatusCode);
    }

    [Fact]
    public async Task Requests_naming_a_foreign_host_are_refused_before_anything_else()
    {
        using var http = Anonymous();
        foreach (var host in new[] { "attacker.example", "attacker.example:" + _port, "127.0.0.1.attacker.example" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/login");
            request.Headers.Host = host;
            var r = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.MisdirectedRequest, r.StatusCode);
            Assert.DoesNotContain("attacker", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        foreach (var host in new[] { "localhost:" + _port, "127.0.0.1:" + _port, "[::1]:" + _port, Dns.GetHostName() })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/login");
            request.Headers.Host = host;
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public void Passwords_and_tokens_are_stored_only_as_hashes()
    {
        var accounts = WebSignIn.Accounts(_host);
        var token = WebSignIn.CreateToken(accounts);
        var text = File.ReadAllText(accounts.FilePath) + ReadAllRows(accounts.FilePath);
        Assert.DoesNotContain("operator-password", text, StringComparison.Ordinal);
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        Assert.Contains("pbkdf2-sha256$210000$", text, StringComparison.Ordinal);
        Assert.NotNull(accounts.VerifyPassword("operator1", "operator-password"));
        Assert.Null(accounts.VerifyPassword("operator1", "operator-passworD"));
        Assert.Null(accounts.VerifyPassword("nobody", "operator-password"));
    }

    [Fact]
    public void Resetting_the_admin_password_gives_a_new_one_and_the_old_one_stops_working()
    {
        using var accounts = new AccountStore(Path.Combine(_dir, "reset-accounts.db"));
        var first = accounts.EnsureAdmin()!;
        Assert.Null(accounts.EnsureAdmin());
        var second = accounts.ResetPassword()!;
        Assert.NotEqual(first, second);
        Assert.Null(accounts.VerifyPassword("admin", first));
        Assert.Equal(AccountRole.Admin, accounts.VerifyPassword("admin", second)!.Role);
        // Deleted by mistake: the reset brings it back, so an installation cannot lock itself out.
        Assert.True(accounts.DeleteUser("admin"));
        var third = accounts.ResetPassword()!;
        Assert.Equal(AccountRole.Admin, accounts.VerifyPassword("admin", third)!.Role);
        Assert.Null(accounts.ResetPassword("nobody"));
    }

    private static string ReadAllRows(string path)
    {
        using var db = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT name || ' ' || hash FROM users UNION ALL SELECT hex(hash) || ' ' || label FROM tokens";
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read()) rows.Add(r.GetString(0));
        return string.Join("\n", rows);
    }
}
