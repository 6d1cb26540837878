using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Accounts;

namespace Switchboard.Web;

/// <summary>
/// <c>Authorization: Bearer sbt_…</c> for CRMs and scripts: the token is looked up by its SHA-256 in the accounts file.
/// A browser never adds this header by itself, so a token request needs no anti-forgery token.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AccountStore accounts)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    /// <summary>The claim that says how a request signed in ("token" or "cookie").</summary>
    public const string ViaClaim = "sb:via";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.FirstOrDefault();
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return Task.FromResult(AuthenticateResult.NoResult());
        var token = header["Bearer ".Length..].Trim();
        if (accounts.FindToken(token) is not { } account) return Task.FromResult(AuthenticateResult.Fail("unknown or revoked API token"));
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, account.Name), new Claim(ClaimTypes.Role, account.Role.ToString()), new Claim(ViaClaim, "token")], SchemeName);
        Context.Items[typeof(Account)] = account;
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }
}
