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

    /// <summary>HA1 of RFC 2617 §3.2.2.2 / RFC 8760 §2: H(user:realm:password), what is stored instead of the password.</summary>
    public static string Ha1(string algorithm, string user, string realm, string password) => Hash(algorithm, $"{user}:{realm}:{password}");

    /// <summary>The request-digest for qop=auth-int: A2 includes the hash of the body (RFC 2617 §3.2.2.3).</summary>
    public static string ResponseAuthInt(string algorithm, string user, string realm, string password, string method, string uri,
        string nonce, string nc, string cnonce, ReadOnlySpan<byte> body) =>
        ResponseAuthIntFromHa1(algorithm, Ha1(algorithm, user, realm, password), method, uri, nonce, nc, cnonce, body);

    /// <summary>The qop=auth-int request-digest from a stored HA1.</summary>
    public static string ResponseAuthIntFromHa1(string algorithm, string ha1, string method, string uri,
        string nonce, string nc, string cnonce, ReadOnlySpan<byte> body)
    {
        var hbody = Convert.ToHexStringLower(algorithm.Equals(Sha256, StringComparison.OrdinalIgnoreCase) ? SHA256.HashData(body) : MD5.HashData(body));
        var ha2 = Hash(algorithm, $"{method}:{uri}:{hbody}");
        return Hash(algorithm, $"{ha1}:{nonce}:{nc}:{cnonce}:auth-int:{ha2}");
    }

    /// <summary>The request-digest of RFC 2617 §3.2.2.1 / RFC 8760 §2 (qop=auth or none).</summary>
    public static string Response(string algorithm, string user, string realm, string password, string method, string uri,
        string nonce, string? qop, string? nc, string? cnonce) =>
        ResponseFromHa1(algorithm, Ha1(algorithm, user, realm, password), method, uri, nonce, qop, nc, cnonce);

    /// <summary>The request-digest (qop=auth or none) from a stored HA1.</summary>
    public static string ResponseFromHa1(string algorithm, string ha1, string method, string uri, string nonce, string? qop, string? nc, string? cnonce)
    {
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
    /// <summary>
    /// The answer was right but its nonce may not be used (any more): too old, issued to another address or by an
    /// earlier process, already used for a REGISTER, or its nonce count not above the last one. Challenge again with
    /// stale=true, so a phone retries with the fresh nonce without asking its user and a replay gets nowhere.
    /// </summary>
    Stale,
    /// <summary>Wrong password, unknown user, broken or unsupported credentials.</summary>
    Invalid,
    /// <summary>The credentials were computed for another request (digest uri is not the Request-URI): 400.</summary>
    BadRequest,
}

/// <summary>Why credentials were not accepted (for logs and security events).</summary>
public enum DigestRejection
{
    /// <summary>Accepted.</summary>
    None,
    /// <summary>No Authorization/Proxy-Authorization for this realm.</summary>
    NoCredentials,
    /// <summary>username, nonce, uri or response missing, or qop without a valid nc and cnonce.</summary>
    Malformed,
    /// <summary>An algorithm that is not offered.</summary>
    UnsupportedAlgorithm,
    /// <summary>A qop that is not offered.</summary>
    UnsupportedQop,
    /// <summary>The digest uri differs from the Request-URI (RFC 2617 §3.2.2.5): credentials lifted from another request.</summary>
    UriMismatch,
    /// <summary>No such user.</summary>
    UnknownUser,
    /// <summary>The response does not match the password.</summary>
    WrongPassword,
    /// <summary>The nonce was not issued by this process to this source address.</summary>
    ForeignNonce,
    /// <summary>The nonce is older than the nonce lifetime.</summary>
    ExpiredNonce,
    /// <summary>The nonce count was not above the highest one seen for this nonce: a replay.</summary>
    NonceCountReused,
    /// <summary>The nonce was already used by a REGISTER, or (without qop) by any request: single use.</summary>
    NonceSpent,
    /// <summary>The table of used nonces is full (more fresh logins than it holds): challenge again.</summary>
    NonceTableFull,
}

/// <summary>The outcome of a check: verdict, reason and the claimed user.</summary>
public readonly record struct DigestResult(DigestVerdict Verdict, DigestRejection Reason, string? User);

/// <summary>A rejected digest answer: the claimed user (if any), where the request came from (if known), and the request.</summary>
public readonly record struct DigestFailure(string? User, SipEndPoint? Source, SipRequest Request);

/// <summary>
/// The server side of SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616/8760). Nonces are stateless until
/// used: a monotonic timestamp and the source address signed with a per-process key, so a nonce captured on the wire
/// is worthless from another address and after <see cref="NonceLifetime"/>. What is used is remembered in a bounded
/// table for the nonce's life: the nonce count must grow (no replay from the same address either), a nonce without
/// qop serves one request, and a REGISTER needs a nonce never used before (a new challenge per REGISTER), so a
/// recorded REGISTER, also one with <c>Contact: *</c>, cannot be played again. The digest uri must be the
/// Request-URI, so credentials of one request cannot be moved to another.
/// </summary>
public sealed class DigestServer(string realm, TimeProvider? time = null)
{
    // Timestamp, 8 random bytes (two challenges in one clock tick must differ: REGISTER nonces are single use), MAC.
    private const int NonceBytes = 8 + 8 + 16;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, UsedNonce> _used = new(StringComparer.Ordinal);

    // The used nonces in the order they were first used: every nonce lives equally long, so the expired ones are at
    // the front and are dropped there, instead of a scan over the whole table for every login once it is full.
    private readonly Queue<(string Nonce, long Issued)> _usedOrder = new();

    /// <summary>The realm.</summary>
    public string Realm { get; } = realm;

    /// <summary>How long a nonce is accepted (Asterisk uses 32 s): afterwards the phone is challenged with stale=true.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Algorithms offered, most preferred first (one challenge header each).</summary>
    public IReadOnlyList<string> Algorithms { get; init; } = [DigestAlgorithms.Md5];

    /// <summary>Offer qop=auth-int (body integrity) besides qop=auth.</summary>
    public bool OfferAuthInt { get; init; }

    /// <summary>
    /// Most nonces remembered at once (each for its lifetime at most). Fresh logins per second × lifetime must fit:
    /// 131,072 holds 4,000 a second for 30 s, in about 20 MB.
    /// </summary>
    public int MaxTrackedNonces { get; init; } = 131_072;

    /// <summary>Adds the challenge headers (401 WWW-Authenticate, or 407 Proxy-Authenticate) to a response.</summary>
    public void Challenge(SipResponse response, bool stale = false) => Challenge(response, null, stale);

    /// <summary>Adds the challenge headers with a nonce good only for requests from <paramref name="source"/>.</summary>
    public void Challenge(SipResponse response, SipEndPoint? source, bool stale = false)
    {
        var name = response.StatusCode == 407 ? SipHeaderNames.ProxyAuthenticate : SipHeaderNames.WwwAuthenticate;
        var nonce = NewNonce(source);
        var qop = OfferAuthInt ? "auth,auth-int" : "auth";
        foreach (var alg in Algorithms)
            response.Add(name, $"Digest realm=\"{Realm}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"{qop}\"{(stale ? ", stale=true" : "")}");
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
        var result = Check(request, source, passwordOf);
        user = result.User;
        return result.Verdict;
    }

    /// <summary>The user name the request's credentials for this realm claim, or null (for throttling before the check).</summary>
    public string? ClaimedUser(SipRequest request) => CredentialsOf(request)?["username"];

    /// <summary>Checks the credentials of a request from <paramref name="source"/>, with the reason of a refusal.</summary>
    public DigestResult Check(SipRequest request, SipEndPoint? source, Func<string, string?> passwordOf) =>
        CheckHa1(request, source, (user, algorithm) => passwordOf(user) is { } password ? DigestAlgorithms.Ha1(algorithm, user, Realm, password) : null);

    /// <summary>
    /// Checks the credentials against stored HA1 values (<paramref name="ha1Of"/>: user, algorithm → lower-case hex HA1
    /// for this realm, or null for no such user), so the server never needs the plain password.
    /// </summary>
    public DigestResult CheckHa1(SipRequest request, SipEndPoint? source, Func<string, string, string?> ha1Of)
    {
        var result = Evaluate(request, source, ha1Of);
        if (result.Verdict == DigestVerdict.Invalid) Failed?.Invoke(new DigestFailure(result.User, source, request));
        return result;
    }

    private DigestHeader? CredentialsOf(SipRequest request)
    {
        foreach (var header in request.All(SipHeaderNames.Authorization).Concat(request.All(SipHeaderNames.ProxyAuthorization)))
        {
            var h = DigestHeader.Parse(header);
            if (h?["realm"] == Realm) return h;
        }
        return null;
    }

    private DigestResult Evaluate(SipRequest request, SipEndPoint? source, Func<string, string, string?> ha1Of)
    {
        var creds = CredentialsOf(request);
        if (creds is null) return new(DigestVerdict.Missing, DigestRejection.NoCredentials, null);
        var user = creds["username"];
        var nonce = creds["nonce"];
        var uri = creds["uri"];
        var response = creds["response"];
        var alg = creds["algorithm"] ?? DigestAlgorithms.Md5;
        if (user is null || nonce is null || uri is null || response is null) return new(DigestVerdict.Invalid, DigestRejection.Malformed, user);
        if (!DigestAlgorithms.IsSupported(alg) || !Algorithms.Contains(alg, StringComparer.OrdinalIgnoreCase))
            return new(DigestVerdict.Invalid, DigestRejection.UnsupportedAlgorithm, user);
        var qop = creds["qop"];
        var nc = creds["nc"];
        var cnonce = creds["cnonce"];
        uint count = 0;
        if (qop is not null)
        {
            bool authInt = qop.Equals("auth-int", StringComparison.OrdinalIgnoreCase);
            if (!qop.Equals("auth", StringComparison.OrdinalIgnoreCase) && !(authInt && OfferAuthInt))
                return new(DigestVerdict.Invalid, DigestRejection.UnsupportedQop, user);
            if (nc is not { Length: 8 } || !uint.TryParse(nc, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out count) || count == 0
                || string.IsNullOrEmpty(cnonce))
                return new(DigestVerdict.Invalid, DigestRejection.Malformed, user);
        }
        if (!string.Equals(uri.Trim(), request.Uri.Trim(), StringComparison.Ordinal))
            return new(DigestVerdict.BadRequest, DigestRejection.UriMismatch, user);
        var algorithm = alg.Equals(DigestAlgorithms.Sha256, StringComparison.OrdinalIgnoreCase) ? DigestAlgorithms.Sha256 : DigestAlgorithms.Md5;
        var ha1 = ha1Of(user, algorithm);
        if (ha1 is null) return new(DigestVerdict.Invalid, DigestRejection.UnknownUser, user);
        var expected = qop is not null && qop.Equals("auth-int", StringComparison.OrdinalIgnoreCase)
            ? DigestAlgorithms.ResponseAuthIntFromHa1(alg, ha1, request.Method, uri, nonce, nc!, cnonce!, request.Body)
            : DigestAlgorithms.ResponseFromHa1(alg, ha1, request.Method, uri, nonce, qop, nc, cnonce);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(response.ToLowerInvariant())))
            return new(DigestVerdict.Invalid, DigestRejection.WrongPassword, user);
        // Only now, with a right answer, does the nonce decide: stale=true is promised to clients that know the password.
        if (!TryOpenNonce(nonce, source, out long issued)) return new(DigestVerdict.Stale, DigestRejection.ForeignNonce, user);
        if (_time.GetElapsedTime(issued) > NonceLifetime) return new(DigestVerdict.Stale, DigestRejection.ExpiredNonce, user);
        var use = Use(nonce, issued, request.Method == "REGISTER", qop is null ? null : count);
        return use == DigestRejection.None ? new(DigestVerdict.Valid, DigestRejection.None, user) : new(DigestVerdict.Stale, use, user);
    }

    /// <summary>Records one use of a nonce; the rule of the refusal when the use is a replay.</summary>
    private DigestRejection Use(string nonce, long issued, bool register, uint? count)
    {
        lock (_used)
        {
            if (_used.TryGetValue(nonce, out var entry))
            {
                if (entry.Spent || register || count is null) return DigestRejection.NonceSpent;
                if (count.Value <= entry.LastCount) return DigestRejection.NonceCountReused;
                entry.LastCount = count.Value;
                return DigestRejection.None;
            }
            while (_usedOrder.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.Issued) > NonceLifetime)
            {
                _usedOrder.Dequeue();
                _used.Remove(oldest.Nonce);
            }
            if (_used.Count >= MaxTrackedNonces) return DigestRejection.NonceTableFull;
            _used[nonce] = new UsedNonce { Issued = issued, LastCount = count ?? 0, Spent = register || count is null };
            _usedOrder.Enqueue((nonce, issued));
            return DigestRejection.None;
        }
    }

    /// <summary>The nonces remembered now (for tests of the bound).</summary>
    public int TrackedNonces
    {
        get
        {
            lock (_used) return _used.Count;
        }
    }

    private string NewNonce(SipEndPoint? source)
    {
        Span<byte> buf = stackalloc byte[NonceBytes];
        BitConverter.TryWriteBytes(buf, _time.GetTimestamp());
        RandomNumberGenerator.Fill(buf.Slice(8, 8));
        Sign(buf[..16], source, buf[16..]);
        return Convert.ToBase64String(buf).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>HMAC over timestamp, random part and the source address (IPv4-mapped addresses as IPv4; the port is left out, NAT may change it).</summary>
    private void Sign(ReadOnlySpan<byte> stamp, SipEndPoint? source, Span<byte> mac)
    {
        Span<byte> data = stackalloc byte[16 + 16];
        stamp.CopyTo(data);
        int n = 16;
        if (source is { } s)
        {
            var ip = s.Address.Address.IsIPv4MappedToIPv6 ? s.Address.Address.MapToIPv4() : s.Address.Address;
            ip.TryWriteBytes(data[16..], out int written);
            n += written;
        }
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(_key, data[..n], full);
        full[..16].CopyTo(mac);
    }

    private bool TryOpenNonce(string nonce, SipEndPoint? source, out long issued)
    {
        issued = 0;
        if (nonce.Length > 64) return false;
        var text = nonce.Replace('-', '+').Replace('_', '/');
        text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
        Span<byte> buf = stackalloc byte[48];
        if (!Convert.TryFromBase64String(text, buf, out int n) || n != NonceBytes) return false;
        Span<byte> mac = stackalloc byte[16];
        Sign(buf[..16], source, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, buf.Slice(16, 16))) return false;
        issued = BitConverter.ToInt64(buf[..8]);
        return true;
    }

    private sealed class UsedNonce
    {
        public long Issued;
        public uint LastCount;
        public bool Spent;
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
