namespace Switchboard.Web;

/// <summary>Sign-in and request checks of the CTI server port (configuration section "Web").</summary>
public sealed class WebOptions
{
    /// <summary>
    /// Names the Host header may carry (without port), against DNS rebinding. Empty: localhost, the loopback literals,
    /// this machine's host name and its addresses. "*" allows any (only behind a proxy that checks it).
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Origins besides the port's own (scheme://host[:port]) whose pages may use the signed-in console API and WebSocket.</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>The accounts and tokens database; empty puts it beside Database as NAME-accounts.db.</summary>
    public string AccountsDatabase { get; set; } = "";

    /// <summary>Sign-in attempts per client address and minute; more get 429.</summary>
    public int LoginAttemptsPerMinute { get; set; } = 10;

    /// <summary>How long a sign-in lasts without use (the cookie slides while used).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Most journal rows the console's search runs over (newest first).</summary>
    public int JournalSearchRows { get; set; } = 5000;
}
