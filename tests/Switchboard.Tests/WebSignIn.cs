using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Playwright;
using Switchboard.Accounts;
using Switchboard.Interface;
using Switchboard.Web;

namespace Switchboard.Tests;

/// <summary>
/// Credentials for tests of the web port, made the way an administrator would (an account or API token in the
/// accounts file), so tests keep the default of "everything needs a sign-in" instead of switching it off.
/// </summary>
internal static class WebSignIn
{
    public const string AdminPassword = "admin-test-password";

    /// <summary>A new API token acting as <paramref name="role"/> for the account <paramref name="owner"/> (created as admin if missing).</summary>
    public static string CreateToken(AccountStore accounts, AccountRole role = AccountRole.Admin, string owner = "tests")
    {
        if (accounts.GetUser(owner) is null) accounts.CreateUser(owner, AccountRole.Admin, [], AdminPassword);
        var (token, error) = accounts.CreateToken(owner, "test " + Guid.NewGuid().ToString("N")[..6], role);
        return token ?? throw new InvalidOperationException("token refused: " + error);
    }

    public static AccountStore Accounts(IHost host) => host.Services.GetRequiredService<CtiWebServer>().Accounts;

    /// <summary>An HttpClient for the web port that sends an admin API token.</summary>
    public static HttpClient Client(IHost host, AccountRole role = AccountRole.Admin)
    {
        var port = host.Services.GetRequiredService<CtiWebServer>().Port;
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", CreateToken(Accounts(host), role));
        return http;
    }

    /// <summary>Signs in through the sign-in page, as a person would, and waits for the console's tiles.</summary>
    public static async Task SignInAsync(IPage page, int port, string name, string password)
    {
        await page.GotoAsync($"http://127.0.0.1:{port}/");
        await page.WaitForURLAsync("**/login");
        await page.FillAsync("#name", name);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#signin");
        await page.Locator(".tile").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
    }

    /// <summary>One command over the IP interface's TCP port (what a TAPIMaster client sees), returning the reply line.</summary>
    public static async Task<string> IpCommandAsync(IHost host, string line)
    {
        var port = host.Services.GetRequiredService<IpInterfaceServer>().LocalEndPoint.Port;
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await reader.ReadLineAsync(cts.Token) ?? "";
    }
}
