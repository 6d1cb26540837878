using System.Collections.Concurrent;
using System.Security.Cryptography;
using Switchboard.Sip.Auth;
using Switchboard.Telephony;

namespace Switchboard.Switch.Security;

/// <summary>
/// SIP passwords of the extensions, stored as digest HA1 values for the realm (MD5 and SHA-256). A device without one
/// gets a random password on first start; it is kept as pending, shown at every start and by
/// <c>switchboard ctl passwords</c>, until the extension first registers with it, so a failed first start loses
/// nothing. No installation ever runs with a well-known default.
/// </summary>
public sealed class DeviceSecrets(IDeviceSecretStore store, string realm)
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no look-alikes (l/1, O/0)

    // Devices with a pending password, so a registration costs a database write only the first time.
    private readonly ConcurrentDictionary<string, byte> _pending = new(StringComparer.Ordinal);

    // Passwords created or reset by this process: kept in memory (never on disk after registration) for PasswordOf.
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.Ordinal);

    /// <summary>The realm the HA1 values are for.</summary>
    public string Realm { get; } = realm;

    /// <summary>Devices whose stored HA1 is for another realm (Sip:Realm changed): they need a reset or a configured password.</summary>
    public IReadOnlyList<string> OtherRealm { get; private set; } = [];

    /// <summary>
    /// Ensures every device has credentials for the realm; converts plain-text passwords of older versions; returns
    /// the passwords created now (device → password).
    /// </summary>
    public IReadOnlyDictionary<string, string> EnsureAll(IEnumerable<string> devices, IReadOnlyDictionary<string, string>? configured = null)
    {
        foreach (var (device, plain) in store.LegacyPasswords())
        {
            if (store.GetCredential(device) is null) store.SetCredential(device, For(device, plain, pending: null));
            store.RemoveLegacy(device);
        }
        var created = new Dictionary<string, string>(StringComparer.Ordinal);
        var otherRealm = new List<string>();
        foreach (var d in devices)
        {
            var current = store.GetCredential(d);
            if (configured is not null && configured.TryGetValue(d, out var fixedSecret) && !string.IsNullOrEmpty(fixedSecret))
            {
                if (current is null || current.Realm != Realm || current.PendingPassword is not null
                    || current.Ha1Md5 != DigestAlgorithms.Ha1(DigestAlgorithms.Md5, d, Realm, fixedSecret))
                    store.SetCredential(d, For(d, fixedSecret, pending: null));
                _known[d] = fixedSecret;
                continue;
            }
            if (current is not null)
            {
                if (current.PendingPassword is { } pending)
                {
                    // Not yet used: re-hashed for a changed realm, and still shown.
                    if (current.Realm != Realm) store.SetCredential(d, For(d, pending, pending));
                    _pending[d] = 0;
                    _known[d] = pending;
                }
                else if (current.Realm != Realm) otherRealm.Add(d);
                continue;
            }
            var secret = Generate();
            store.SetCredential(d, For(d, secret, secret));
            _pending[d] = 0;
            _known[d] = secret;
            created[d] = secret;
        }
        OtherRealm = otherRealm;
        return created;
    }

    /// <summary>The stored HA1 of a device for an algorithm (<see cref="DigestAlgorithms"/>), or null (no device, or another realm).</summary>
    public string? Ha1Of(string device, string algorithm) =>
        store.GetCredential(device) is { } c && c.Realm == Realm
            ? (algorithm == DigestAlgorithms.Sha256 ? c.Ha1Sha256 : c.Ha1Md5)
            : null;

    /// <summary>The extension registered with its password: a pending one is erased from the store.</summary>
    public void Registered(string device)
    {
        if (_pending.TryRemove(device, out _)) store.ClearPending(device);
    }

    /// <summary>Gives a device a new password (pending until it registers) and returns it.</summary>
    public string Reset(string device)
    {
        var secret = Generate();
        store.SetCredential(device, For(device, secret, secret));
        _pending[device] = 0;
        _known[device] = secret;
        return secret;
    }

    /// <summary>Passwords not yet used to register (device → password).</summary>
    public IReadOnlyDictionary<string, string> Pending() =>
        store.AllCredentials().Where(c => c.Value.PendingPassword is not null).ToDictionary(c => c.Key, c => c.Value.PendingPassword!, StringComparer.Ordinal);

    /// <summary>Every device with credentials, and whether its password is still pending.</summary>
    public IReadOnlyDictionary<string, DeviceCredential> All() => store.AllCredentials();

    /// <summary>The device's password if this process knows it (configured, generated or reset since start, or pending), else null.</summary>
    public string? Get(string device) => _known.GetValueOrDefault(device) ?? store.GetCredential(device)?.PendingPassword;

    private DeviceCredential For(string device, string password, string? pending) => new(Realm,
        DigestAlgorithms.Ha1(DigestAlgorithms.Md5, device, Realm, password), DigestAlgorithms.Ha1(DigestAlgorithms.Sha256, device, Realm, password), pending);

    /// <summary>A new random password of 16 characters (about 93 bits).</summary>
    public static string Generate(int length = 16)
    {
        Span<char> chars = stackalloc char[length];
        for (int i = 0; i < length; i++) chars[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        return new string(chars);
    }
}
