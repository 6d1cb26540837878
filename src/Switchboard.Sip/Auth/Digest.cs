using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;

namespace Switchboard.Sip.Auth;

/// <summary>A Digest challenge or credentials header value, as name → value (quotes removed).</summary>
public sealed class DigestHeader
{
    /// <summary>The parameters, names case-insensitive.</summary>
    public Dictionary<string, string> Parameters { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A parameter or null.</summary>
    public string? this[string name] => Parameters.GetValueOrDefault(name);

    /// <summary>Parses <c>Digest realm="x", nonce="y", …</c>; null when the scheme is not Digest or the syntax is broken.</summary>
    public static DigestHeader? Parse(string value)
    {
        var s = value.Trim();
        if (!s.StartsWith("Digest", StringComparison.OrdinalIgnoreCase) || s.Length < 7 || !char.IsWhiteSpace(s[6])) return null;
        var h = new DigestHeader();
        foreach (var part in SipText.SplitOutsideQuotes(s[7..], ','))
        {
            var p = part.Trim();
            if (p.Length == 0) continue;
            int eq = p.IndexOf('=');
            if (eq <= 0) return null;
            h.Parameters[p[..eq].Trim()] = SipText.Unquote(p[(eq + 1)..]);
        }
        return h;
    }
}

/// <summary>Digest hash algorithms of RFC 8760.</summary>
public static class DigestAlgorithms
{
    /// <summary>MD5 (RFC 2617), what most phones still speak.</summary>
    public const string Md5 = "MD5";

    /// <summary>SHA-256 (RFC 8760).</summary>
    public const string Sha256 = "SHA-256";

    /// <summary>True when supported here.</summary>
    public static bool IsSupported(string algorithm) =>
        algorithm.Equals(Md5, StringComparison.OrdinalIgnoreCase) || algorithm.Equals(Sha256, StringComparison.OrdinalIgnoreCase);

    /// <summary>Lower-case hex hash of the text.</summary>
    public static string Hash(string algorithm, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return Convert.ToHexStringLower(algorithm.Equals(Sha256, StringComparison.OrdinalIgnoreCase) ? SHA256.HashData(bytes) : MD5.HashData(bytes));
    }

    /// <summary>The request-digest of RFC 2617 §3.2.2.1 / RFC 8760 §2 (qop=auth or none).</summary>
    public static string Response(string algorithm, string user, string realm, string password, string method, string uri,
        string nonce, string? qop, string? nc, string? cnonce)
    {
        var ha1 = Hash(algorithm, $"{user}:{realm}:{password}");
        var ha2 = Hash(algorithm, $"{method}:{uri}");
        return qop is null ? Hash(algorithm, $"{ha1}:{nonce}:{ha2}") : Hash(algorithm, $"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}");
    }
}

/// <summary>Result of checking a request's credentials.</summary>
public enum DigestVerdict
{
    /// <summary>No (usable) credentials for this realm: challenge.</summary>
    Missing,
    /// <summary>Correct.</summary>
    Valid,
    /// <summary>The nonce is too old but the answer was otherwise right: challenge with stale=true.</summary>
    Stale,
    /// <summary>Wrong password, wrong user or forged nonce.</summary>
    Invalid,
}

/// <summary>A rejected digest answer: the claimed user (if any), where the request came from (if known), and the request.</summary>
public readonly record struct DigestFailure(string? User, SipEndPoint? Source, SipRequest Request);

/// <summary>
/// The server side of SIP digest authentication (RFC 3261 §22, RFC 8760): issues challenges with stateless nonces
/// (a timestamp signed with a per-process key, so no nonce table can be flooded), checks answers, and reports stale
/// nonces so a phone retries without asking its user.
/// </summary>
public sealed class DigestServer(string realm, TimeProvider? time = null)
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The realm.</summary>
    public string Realm { get; } = realm;

    /// <summary>How long a nonce is accepted.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Algorithms offered, most preferred first (one challenge header each).</summary>
    public IReadOnlyList<string> Algorithms { get; init; } = [DigestAlgorithms.Md5];

    /// <summary>Adds the challenge headers (401 WWW-Authenticate, or 407 Proxy-Authenticate) to a response.</summary>
    public void Challenge(SipResponse response, bool stale = false)
    {
        var name = response.StatusCode == 407 ? SipHeaderNames.ProxyAuthenticate : SipHeaderNames.WwwAuthenticate;
        var nonce = NewNonce();
        foreach (var alg in Algorithms)
            response.Add(name, $"Digest realm=\"{Realm}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{(stale ? ", stale=true" : "")}");
    }

    /// <summary>
    /// Raised for every <see cref="DigestVerdict.Invalid"/> answer (wrong password, unknown user, forged nonce), with the
    /// source when the caller passed it, so a registrar can throttle by address or by user without parsing again.
    /// </summary>
    public event Action<DigestFailure>? Failed;

    /// <summary>Checks the Authorization (or Proxy-Authorization) of a request against the user's password.</summary>
    public DigestVerdict Verify(SipRequest request, Func<string, string?> passwordOf, out string? user) =>
        Verify(request, null, passwordOf, out user);

    /// <summary>Checks the credentials of a request that came from <paramref name="source"/>; failures raise <see cref="Failed"/>.</summary>
    public DigestVerdict Verify(SipRequest request, SipEndPoint? source, Func<string, string?> passwordOf, out string? user)
    {
        var verdict = Check(request, passwordOf, out user);
        if (verdict == DigestVerdict.Invalid) Failed?.Invoke(new DigestFailure(user, source, request));
        return verdict;
    }

    private DigestVerdict Check(SipRequest request, Func<string, string?> passwordOf, out string? user)
    {
        user = null;
        DigestHeader? creds = null;
        foreach (var header in request.All(SipHeaderNames.Authorization).Concat(request.All(SipHeaderNames.ProxyAuthorization)))
        {
            var h = DigestHeader.Parse(header);
            if (h?["realm"] == Realm)
            {
                creds = h;
                break;
            }
        }
        if (creds is null) return DigestVerdict.Missing;
        user = creds["username"];
        var nonce = creds["nonce"];
        var uri = creds["uri"];
        var response = creds["response"];
        var alg = creds["algorithm"] ?? DigestAlgorithms.Md5;
        if (user is null || nonce is null || uri is null || response is null || !DigestAlgorithms.IsSupported(alg)) return DigestVerdict.Invalid;
        if (!Algorithms.Contains(alg, StringComparer.OrdinalIgnoreCase)) return DigestVerdict.Invalid;
        var nonceState = CheckNonce(nonce);
        if (nonceState == DigestVerdict.Invalid) return DigestVerdict.Invalid;
        var password = passwordOf(user);
        if (password is null) return DigestVerdict.Invalid;
        var qop = creds["qop"];
        if (qop is not null && !qop.Equals("auth", StringComparison.OrdinalIgnoreCase)) return DigestVerdict.Invalid;
        var expected = DigestAlgorithms.Response(alg, user, Realm, password, request.Method, uri, nonce, qop, creds["nc"], creds["cnonce"]);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(response.ToLowerInvariant())))
            return DigestVerdict.Invalid;
        return nonceState;
    }

    private string NewNonce()
    {
        Span<byte> buf = stackalloc byte[8 + 16];
        BitConverter.TryWriteBytes(buf, _time.GetUtcNow().ToUnixTimeMilliseconds());
        HMACSHA256.HashData(_key, buf[..8]).AsSpan(0, 16).CopyTo(buf[8..]);
        return Convert.ToBase64String(buf).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private DigestVerdict CheckNonce(string nonce)
    {
        var text = nonce.Replace('-', '+').Replace('_', '/');
        text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
        Span<byte> buf = stackalloc byte[32];
        if (!Convert.TryFromBase64String(text, buf, out int n) || n != 24) return DigestVerdict.Invalid;
        var mac = HMACSHA256.HashData(_key, buf[..8]);
        if (!CryptographicOperations.FixedTimeEquals(mac.AsSpan(0, 16), buf.Slice(8, 16))) return DigestVerdict.Invalid;
        var issued = DateTimeOffset.FromUnixTimeMilliseconds(BitConverter.ToInt64(buf[..8]));
        return _time.GetUtcNow() - issued > NonceLifetime ? DigestVerdict.Stale : DigestVerdict.Valid;
    }
}

/// <summary>The client side: answers a 401/407 challenge for a request (RFC 3261 §22.2, RFC 8760).</summary>
public static class DigestClient
{
    /// <summary>
    /// Adds Authorization (for 401) or Proxy-Authorization (for 407) to <paramref name="request"/>, answering the first
    /// challenge with a supported algorithm. Returns false when there is none.
    /// </summary>
    public static bool Answer(SipResponse challenge, SipRequest request, string user, string password, int nonceCount = 1)
    {
        bool proxy = challenge.StatusCode == 407;
        var headerName = proxy ? SipHeaderNames.ProxyAuthenticate : SipHeaderNames.WwwAuthenticate;
        foreach (var value in challenge.All(headerName))
        {
            var c = DigestHeader.Parse(value);
            if (c?["realm"] is not { } realm || c["nonce"] is not { } nonce) continue;
            var alg = c["algorithm"] ?? DigestAlgorithms.Md5;
            if (!DigestAlgorithms.IsSupported(alg)) continue;
            var qops = c["qop"];
            string? qop = qops is not null && qops.Split(',').Any(q => q.Trim().Equals("auth", StringComparison.OrdinalIgnoreCase)) ? "auth" : null;
            var nc = nonceCount.ToString("x8", CultureInfo.InvariantCulture);
            var cnonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var response = DigestAlgorithms.Response(alg, user, realm, password, request.Method, request.Uri, nonce, qop, nc, cnonce);
            var sb = new StringBuilder();
            sb.Append($"Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{request.Uri}\", response=\"{response}\", algorithm={alg}");
            if (qop is not null) sb.Append($", qop={qop}, nc={nc}, cnonce=\"{cnonce}\"");
            if (c["opaque"] is { } opaque) sb.Append($", opaque=\"{opaque}\"");
            request.Remove(proxy ? SipHeaderNames.ProxyAuthorization : SipHeaderNames.Authorization);
            request.Add(proxy ? SipHeaderNames.ProxyAuthorization : SipHeaderNames.Authorization, sb.ToString());
            return true;
        }
        return false;
    }
}
