using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Webhooks;

/// <summary>
/// The signature of a POST: <c>X-Switchboard-Signature: sha256=&lt;hex&gt;</c>, the HMAC-SHA256 with the receiver's secret of
/// <c>&lt;X-Switchboard-Timestamp&gt;.&lt;body&gt;</c>. The timestamp (Unix seconds of this attempt) is inside the signed text,
/// so a receiver that refuses old timestamps cannot be fed a captured POST again later.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header with the signature.</summary>
    public const string SignatureHeader = "X-Switchboard-Signature";

    /// <summary>The header with the timestamp that is part of the signed text.</summary>
    public const string TimestampHeader = "X-Switchboard-Timestamp";

    /// <summary>The signature header's value for a body sent at <paramref name="timestamp"/>.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.ASCII.GetBytes(timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return "sha256=" + Convert.ToHexStringLower(mac);
    }

    /// <summary>Checks a signature as a receiver should: in constant time, and only for a timestamp within <paramref name="tolerance"/> of now.</summary>
    public static bool Verify(string secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body,
        DateTimeOffset now, TimeSpan tolerance)
    {
        if (timestampHeader is null || signatureHeader is null) return false;
        if (!long.TryParse(timestampHeader, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ts)) return false;
        if (Math.Abs(now.ToUnixTimeSeconds() - ts) > tolerance.TotalSeconds) return false;
        var expected = Encoding.ASCII.GetBytes(Sign(secret, ts, body));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signatureHeader));
    }
}
