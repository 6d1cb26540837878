using System.Globalization;
using System.Security.Cryptography;

namespace Switchboard.Media.Srtp;

/// <summary>Why an SDP crypto attribute was declined.</summary>
public enum SdesRejection
{
    /// <summary>Usable.</summary>
    None,
    /// <summary>Not <c>tag suite inline:key</c>.</summary>
    Malformed,
    /// <summary>A suite this engine does not speak (AES_256, F8, NULL …).</summary>
    UnknownSuite,
    /// <summary>The inline key is not base64 of 16 key and 14 salt bytes.</summary>
    BadKey,
    /// <summary>An MKI is asked for; this engine sends and expects none.</summary>
    Mki,
    /// <summary>Session parameters (UNENCRYPTED_SRTP, KDR …) that change the transform.</summary>
    SessionParameters,
    /// <summary>A key lifetime below 2^20 packets: it would need re-keying within the call.</summary>
    ShortLifetime,
    /// <summary>More than one key in one attribute (keys for several MKIs).</summary>
    SeveralKeys,
}

/// <summary>
/// One SDES crypto attribute (RFC 4568 §9.1): <c>a=crypto:&lt;tag&gt; &lt;suite&gt; inline:&lt;key‖salt&gt;[|lifetime]</c>.
/// Parsed strictly: one key, no MKI, no session parameters, so what is accepted is exactly what the SRTP context does.
/// </summary>
public sealed class SdesCrypto
{
    /// <summary>Longest attribute value read; a real one is about 70 characters.</summary>
    public const int MaxLength = 256;

    private SdesCrypto(int tag, SrtpSuite suite, byte[] keyAndSalt)
    {
        Tag = tag;
        Suite = suite;
        KeyAndSalt = keyAndSalt;
    }

    /// <summary>The tag that pairs an answer's attribute with the offer's (1–999999999).</summary>
    public int Tag { get; }

    /// <summary>The suite.</summary>
    public SrtpSuite Suite { get; }

    /// <summary>The 16-byte master key followed by the 14-byte master salt.</summary>
    internal byte[] KeyAndSalt { get; }

    /// <summary>A new random key for <paramref name="suite"/> (the sender's own key, RFC 4568 §6.1).</summary>
    public static SdesCrypto Generate(int tag, SrtpSuite suite) =>
        new(tag, suite, RandomNumberGenerator.GetBytes(SrtpSuites.MasterKeyLength + SrtpSuites.MasterSaltLength));

    /// <summary>The same key under another tag (an answer takes the tag of the offer it accepts).</summary>
    public SdesCrypto WithTag(int tag) => new(tag, Suite, KeyAndSalt);

    /// <summary>The SRTP context for the direction this key protects.</summary>
    public SrtpContext CreateContext() =>
        new(Suite, KeyAndSalt.AsSpan(0, SrtpSuites.MasterKeyLength), KeyAndSalt.AsSpan(SrtpSuites.MasterKeyLength));

    /// <summary>The attribute value after <c>a=crypto:</c>.</summary>
    public override string ToString() =>
        $"{Tag.ToString(CultureInfo.InvariantCulture)} {Suite.Name()} inline:{Convert.ToBase64String(KeyAndSalt)}";

    /// <summary>Parses the value after <c>a=crypto:</c>.</summary>
    public static SdesRejection TryParse(ReadOnlySpan<char> value, out SdesCrypto? crypto)
    {
        crypto = null;
        value = value.Trim();
        if (value.Length is 0 or > MaxLength) return SdesRejection.Malformed;
        int sp = value.IndexOf(' ');
        if (sp is <= 0 or > 9 || !int.TryParse(value[..sp], NumberStyles.None, CultureInfo.InvariantCulture, out int tag) || tag < 1) return SdesRejection.Malformed;
        var rest = value[(sp + 1)..].TrimStart(' ');
        sp = rest.IndexOf(' ');
        if (sp <= 0) return SdesRejection.Malformed;
        if (!SrtpSuites.TryParse(rest[..sp], out var suite)) return SdesRejection.UnknownSuite;
        rest = rest[(sp + 1)..].TrimStart(' ');
        sp = rest.IndexOf(' ');
        var keyParams = sp < 0 ? rest : rest[..sp];
        if (sp >= 0 && !rest[(sp + 1)..].Trim(' ').IsEmpty) return SdesRejection.SessionParameters;
        if (keyParams.Contains(';')) return SdesRejection.SeveralKeys;
        if (!keyParams.StartsWith("inline:", StringComparison.Ordinal)) return SdesRejection.Malformed;
        keyParams = keyParams[7..];
        int bar = keyParams.IndexOf('|');
        var key = bar < 0 ? keyParams : keyParams[..bar];
        var options = bar < 0 ? [] : keyParams[(bar + 1)..];
        Span<byte> bytes = stackalloc byte[48];
        if (!Convert.TryFromBase64Chars(key, bytes, out int n) || n != SrtpSuites.MasterKeyLength + SrtpSuites.MasterSaltLength) return SdesRejection.BadKey;
        while (!options.IsEmpty)
        {
            bar = options.IndexOf('|');
            var option = bar < 0 ? options : options[..bar];
            options = bar < 0 ? [] : options[(bar + 1)..];
            int colon = option.IndexOf(':');
            if (colon >= 0)
            {
                // MKI:length — an MKI of value 0 … is still an MKI field in every packet.
                return SdesRejection.Mki;
            }
            if (!TryLifetime(option, out var packets)) return SdesRejection.Malformed;
            if (packets < 1UL << 20) return SdesRejection.ShortLifetime;
        }
        crypto = new SdesCrypto(tag, suite, bytes[..n].ToArray());
        return SdesRejection.None;
    }

    private static bool TryLifetime(ReadOnlySpan<char> s, out ulong packets)
    {
        packets = 0;
        if (s.StartsWith("2^", StringComparison.Ordinal))
        {
            if (!int.TryParse(s[2..], NumberStyles.None, CultureInfo.InvariantCulture, out int exp) || exp is < 1 or > 48) return false;
            packets = 1UL << exp;
            return true;
        }
        return s.Length <= 15 && ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out packets);
    }
}
