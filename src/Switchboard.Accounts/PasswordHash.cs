using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Accounts;

/// <summary>
/// Password hashes as <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (base64): the iteration count is stored with each hash,
/// so raising <see cref="Iterations"/> later does not lock anybody out, and verification runs in constant time.
/// </summary>
public static class PasswordHash
{
    /// <summary>PBKDF2-HMAC-SHA256 rounds for new hashes.</summary>
    public const int Iterations = 210_000;

    /// <summary>Fewer rounds than this are refused when verifying (a tampered row must not weaken the hash).</summary>
    public const int MinIterations = 100_000;

    /// <summary>Longest password accepted: PBKDF2 hashes any length, and an unbounded one is a CPU lever for a caller.</summary>
    public const int MaxPasswordLength = 256;

    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>A new hash of <paramref name="password"/> with a random salt.</summary>
    public static string Hash(string password)
    {
        if (password.Length > MaxPasswordLength) throw new ArgumentException($"passwords are at most {MaxPasswordLength} characters", nameof(password));
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="password"/> matches <paramref name="stored"/>; a malformed stored value never matches.</summary>
    public static bool Verify(string password, string stored)
    {
        if (password.Length > MaxPasswordLength) return false;
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme) return false;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < MinIterations || iterations > 10_000_000)
            return false;
        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            expected = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }
        if (expected.Length != HashBytes || salt.Length < 8) return false;
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>A random password for generated accounts: 20 characters of an alphabet without look-alikes (about 116 bits).</summary>
    public static string NewPassword()
    {
        const string alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        return RandomNumberGenerator.GetString(alphabet, 20);
    }
}
