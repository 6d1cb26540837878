namespace Switchboard.Telephony;

/// <summary>Where a phone of a device can be reached: one registration binding (RFC 3261 §10).</summary>
public sealed record PhoneBinding(
    string Device,
    string Contact,
    DateTimeOffset Expires,
    string Transport,
    string Source,
    string? CallId,
    string? UserAgent);

/// <summary>Durable store of phone bindings, so phones stay reachable across a restart until their expiry.</summary>
public interface IPhoneBindingStore
{
    /// <summary>Every stored binding (expired ones included; the caller filters).</summary>
    IReadOnlyList<PhoneBinding> LoadBindings();

    /// <summary>Adds or refreshes a binding (keyed by device and contact).</summary>
    void SaveBinding(PhoneBinding binding);

    /// <summary>Removes a binding; a null contact removes all of the device's bindings.</summary>
    void RemoveBinding(string device, string? contact);
}

/// <summary>
/// A device's SIP digest credentials at rest: HA1 = H(user:realm:password) for MD5 and SHA-256 (RFC 2617, RFC 8760),
/// enough to verify a phone and useless for logging in elsewhere. A generated password is also kept as
/// <see cref="PendingPassword"/> until the extension first registers, so it can be shown again after a failed start.
/// </summary>
public sealed record DeviceCredential(string Realm, string Ha1Md5, string Ha1Sha256, string? PendingPassword);

/// <summary>Durable store of per-device SIP credentials (as HA1), generated on first start, never defaults.</summary>
public interface IDeviceSecretStore
{
    /// <summary>The device's credentials, or null if none were set.</summary>
    DeviceCredential? GetCredential(string device);

    /// <summary>Stores a device's credentials.</summary>
    void SetCredential(string device, DeviceCredential credential);

    /// <summary>Forgets the pending password (after the first registration); true when there was one.</summary>
    bool ClearPending(string device);

    /// <summary>Every device's credentials.</summary>
    IReadOnlyDictionary<string, DeviceCredential> AllCredentials();

    /// <summary>Plain-text passwords of an older version, to be turned into credentials and then removed.</summary>
    IReadOnlyDictionary<string, string> LegacyPasswords();

    /// <summary>Removes a plain-text password of an older version.</summary>
    void RemoveLegacy(string device);
}
