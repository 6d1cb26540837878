using System.Security.Cryptography;
using Switchboard.Telephony;

namespace Switchboard.Switch.Security;

/// <summary>
/// SIP passwords of the extensions. A device without one gets a random password on first start, stored locally and
/// reported once, so no installation ever runs with a well-known default.
/// </summary>
public sealed class DeviceSecrets(IDeviceSecretStore store)
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no look-alikes (l/1, O/0)

    /// <summary>Ensures every device has a password; returns the ones created now (device → password), to be shown once.</summary>
    public IReadOnlyDictionary<string, string> EnsureAll(IEnumerable<string> devices, IReadOnlyDictionary<string, string>? configured = null)
    {
        var created = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var d in devices)
        {
            if (configured is not null && configured.TryGetValue(d, out var fixedSecret) && !string.IsNullOrEmpty(fixedSecret))
            {
                if (store.GetSecret(d) != fixedSecret) store.SetSecret(d, fixedSecret);
                continue;
            }
            if (store.GetSecret(d) is not null) continue;
            var secret = Generate();
            store.SetSecret(d, secret);
            created[d] = secret;
        }
        return created;
    }

    /// <summary>The device's password, or null for a device that has none.</summary>
    public string? Get(string device) => store.GetSecret(device);

    /// <summary>A new random password of 16 characters (about 93 bits).</summary>
    public static string Generate(int length = 16)
    {
        Span<char> chars = stackalloc char[length];
        for (int i = 0; i < length; i++) chars[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        return new string(chars);
    }
}
