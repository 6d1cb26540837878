using Switchboard.Telephony;

namespace Switchboard.Switch.Registrar;

/// <summary>
/// The registrar's location service (RFC 3261 §10.3): the live bindings of each device, persisted through
/// <see cref="IPhoneBindingStore"/> so a restart (even kill -9) keeps phones reachable until their expiry. Device
/// reachability in the call model follows the table.
/// </summary>
public sealed class BindingTable
{
    private readonly IPhoneBindingStore _store;
    private readonly CallModel? _model;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, List<PhoneBinding>> _bindings = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    /// <summary>Loads the stored bindings that have not expired.</summary>
    public BindingTable(IPhoneBindingStore store, CallModel? model = null, TimeProvider? time = null)
    {
        _store = store;
        _model = model;
        _time = time ?? TimeProvider.System;
        var now = _time.GetUtcNow();
        foreach (var b in store.LoadBindings())
        {
            if (b.Expires <= now)
            {
                store.RemoveBinding(b.Device, b.Contact);
                continue;
            }
            Add(b);
        }
        if (_model is not null)
            foreach (var d in _model.Devices) _model.SetReachable(d, _bindings.ContainsKey(d));
    }

    /// <summary>Adds or refreshes a binding.</summary>
    public void Register(PhoneBinding binding)
    {
        lock (_gate)
        {
            _store.SaveBinding(binding);
            Add(binding);
            _model?.SetReachable(binding.Device, true);
        }
    }

    /// <summary>Removes one binding, or all of a device's bindings when contact is null (<c>Contact: *</c>).</summary>
    public void Unregister(string device, string? contact)
    {
        lock (_gate)
        {
            _store.RemoveBinding(device, contact);
            if (_bindings.TryGetValue(device, out var list))
            {
                if (contact is null) list.Clear();
                else list.RemoveAll(b => b.Contact == contact);
                if (list.Count == 0) _bindings.Remove(device);
            }
            _model?.SetReachable(device, _bindings.ContainsKey(device));
        }
    }

    /// <summary>The device's live bindings, newest expiry first.</summary>
    public IReadOnlyList<PhoneBinding> Lookup(string device)
    {
        lock (_gate)
        {
            if (!_bindings.TryGetValue(device, out var list)) return [];
            var now = _time.GetUtcNow();
            return [.. list.Where(b => b.Expires > now).OrderByDescending(b => b.Expires)];
        }
    }

    /// <summary>Drops expired bindings; returns the devices that became unreachable.</summary>
    public IReadOnlyList<string> Expire()
    {
        var gone = new List<string>();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var (device, list) in _bindings.ToList())
            {
                foreach (var b in list.Where(b => b.Expires <= now).ToList())
                {
                    list.Remove(b);
                    _store.RemoveBinding(device, b.Contact);
                }
                if (list.Count == 0)
                {
                    _bindings.Remove(device);
                    _model?.SetReachable(device, false);
                    gone.Add(device);
                }
            }
        }
        return gone;
    }

    private void Add(PhoneBinding b)
    {
        if (!_bindings.TryGetValue(b.Device, out var list)) _bindings[b.Device] = list = [];
        list.RemoveAll(x => x.Contact == b.Contact);
        list.Add(b);
    }
}
