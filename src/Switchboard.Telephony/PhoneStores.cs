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

/// <summary>Durable store of per-device secrets (SIP digest passwords), generated on first start, never defaults.</summary>
public interface IDeviceSecretStore
{
    /// <summary>The device's secret, or null if none was set.</summary>
    string? GetSecret(string device);

    /// <summary>Stores a device's secret.</summary>
    void SetSecret(string device, string secret);
}
