namespace Switchboard.Switch.Trunks;

/// <summary>How a trunk wants numbers written in the Request-URI, To and caller ID.</summary>
public enum TrunkNumberFormat
{
    /// <summary>+E.164: <c>+49891234567</c>.</summary>
    E164,
    /// <summary>International with the 00 prefix: <c>0049891234567</c>.</summary>
    International,
    /// <summary>National: <c>0891234567</c> at home, <c>001…</c> for other countries.</summary>
    National,
}

/// <summary>One SIP trunk to a provider or an upstream PBX (an entry of "Sip:Trunks").</summary>
public sealed class TrunkOptions
{
    /// <summary>A name for logs and refusals.</summary>
    public string Name { get; set; } = "trunk";

    /// <summary>The upstream host (IP address or DNS name, resolved at start).</summary>
    public string Host { get; set; } = "";

    /// <summary>The upstream SIP port.</summary>
    public int Port { get; set; } = 5060;

    /// <summary>"udp", "tcp" or "tls" (then the server certificate is verified, see <see cref="TlsVerify"/>).</summary>
    public string Transport { get; set; } = "udp";

    /// <summary>
    /// With "tls": check the upstream's certificate (chain and the name <see cref="Host"/>). False is an explicit opt-out:
    /// the signalling is encrypted but anyone on the path can pose as the provider; logged at each connection.
    /// </summary>
    public bool TlsVerify { get; set; } = true;

    /// <summary>SRTP towards this trunk (needs Transport "tls": keys never go into clear signalling).</summary>
    public SrtpPolicy Srtp { get; set; } = SrtpPolicy.Optional;

    /// <summary>With "tls": a PEM file of the certificates the upstream's chain must end in (instead of the system store).</summary>
    public string TrustFile { get; set; } = "";

    /// <summary>The SIP domain in From, To and the Request-URI; empty means <see cref="Host"/>.</summary>
    public string Domain { get; set; } = "";

    /// <summary>The account (user part of the registration's To/From, and the digest user unless <see cref="AuthUsername"/> is set).</summary>
    public string Username { get; set; } = "";

    /// <summary>The digest user when it differs from <see cref="Username"/>.</summary>
    public string AuthUsername { get; set; } = "";

    /// <summary>The digest password, for REGISTER and for 401/407 challenges to INVITE.</summary>
    public string Password { get; set; } = "";

    /// <summary>Register at the upstream (needed by providers that locate the account by registration).</summary>
    public bool Register { get; set; }

    /// <summary>Registration lifetime asked for, in seconds.</summary>
    public int RegisterExpires { get; set; } = 600;

    /// <summary>First wait after a failed registration, in seconds; doubled each time up to <see cref="RegisterRetryMaxSeconds"/>.</summary>
    public double RegisterRetrySeconds { get; set; } = 5;

    /// <summary>Longest wait between registration attempts, in seconds.</summary>
    public double RegisterRetryMaxSeconds { get; set; } = 300;

    /// <summary>
    /// Numbers routed to this trunk, as +E.164 prefixes ("+49", "+4989", "+" for all); the longest match over all trunks
    /// wins, ties go to the trunk listed first. Empty means all numbers (as "+"): a default list would be appended to,
    /// not replaced, by the configuration binder.
    /// </summary>
    public List<string> Prefixes { get; set; } = [];

    /// <summary>The format the upstream expects for called and calling numbers.</summary>
    public TrunkNumberFormat NumberFormat { get; set; } = TrunkNumberFormat.E164;

    /// <summary>The home country code, for converting national numbers.</summary>
    public string CountryCode { get; set; } = "49";

    /// <summary>The area code without the trunk zero (e.g. "89"), for numbers dialled without one; empty: sent as dialled.</summary>
    public string AreaCode { get; set; } = "";

    /// <summary>
    /// The caller ID presented when the calling extension has no DID of its own on this trunk (+E.164 or national);
    /// empty: <see cref="Username"/>.
    /// </summary>
    public string CallerId { get; set; } = "";

    /// <summary>The user part of From; empty means the caller ID (some providers want the account here instead).</summary>
    public string FromUser { get; set; } = "";

    /// <summary>Also present the caller ID in P-Asserted-Identity (RFC 3325), for upstreams that trust us.</summary>
    public bool PAssertedIdentity { get; set; } = true;

    /// <summary>
    /// Inbound numbers (DIDs) and the extension each rings, e.g. "+4989555100": "100"; numbers in any format the
    /// trunk uses. Calls to other numbers get 404.
    /// </summary>
    public Dictionary<string, string> Dids { get; set; } = [];

    /// <summary>
    /// Further source addresses ("ip" or "ip:port") whose INVITEs are taken as calls from this trunk; the upstream's own
    /// address and port always are.
    /// </summary>
    public List<string> InboundSources { get; set; } = [];
}
