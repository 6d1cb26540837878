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
    // Per binding: unanswered keepalive pings in a row, and when its flow last proved alive (REGISTER or answered
    // ping; the keepalive waits an interval after it). Not stored: a restart starts every phone afresh.
    private readonly Dictionary<(string Device, string Contact), Liveness> _liveness = [];
    private readonly object _gate = new();

    /// <summary>Loads the stored bindings that have not expired.</summary>
    public BindingTable(IPhoneBindingStore store, CallModel? model = null, TimeProvider? time = null)
    {
        _store = store;
        _model = model;
        _time = time ?? TimeProvider.System;
        var now = _time.GetUtcNow();
        _loaded = now;
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
            _liveness[(binding.Device, binding.Contact)] = new Liveness(0, _time.GetUtcNow());
            _model?.SetReachable(binding.Device, true);
        }
    }

    /// <summary>
    /// Removes the device's bindings made under <paramref name="callId"/> whose Contact is not in <paramref name="keep"/>:
    /// the UA re-registered from somewhere else. Returns the bindings removed.
    /// </summary>
    public IReadOnlyList<PhoneBinding> DropOthersOfCall(string device, string? callId, IReadOnlyCollection<string> keep)
    {
        if (callId is null || keep.Count == 0) return [];
        lock (_gate)
        {
            if (!_bindings.TryGetValue(device, out var list)) return [];
            var gone = list.Where(b => b.CallId == callId && !keep.Contains(b.Contact)).ToList();
            foreach (var b in gone)
            {
                list.Remove(b);
                _liveness.Remove((device, b.Contact));
                _store.RemoveBinding(device, b.Contact);
            }
            return gone;
        }
    }

    /// <summary>Every live binding (snapshot), for the keepalive round.</summary>
    public IReadOnlyList<PhoneBinding> All()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            return [.. _bindings.Values.SelectMany(l => l).Where(b => b.Expires > now)];
        }
    }

    /// <summary>
    /// Records the outcome of a keepalive ping. A phone is unreachable once every one of its bindings missed
    /// <see cref="UnreachableAfter"/> pings in a row, reachable again at the first answer. Returns the device's
    /// reachability when it changed, else null.
    /// </summary>
    public bool? PingResult(string device, string contact, bool answered)
    {
        lock (_gate)
        {
            if (!_bindings.TryGetValue(device, out var list) || !list.Any(b => b.Contact == contact)) return null;
            bool before = ReachableLocked(device, list);
            var was = LivenessLocked(device, contact);
            _liveness[(device, contact)] = answered ? new Liveness(0, _time.GetUtcNow()) : was with { Unanswered = was.Unanswered + 1 };
            bool after = ReachableLocked(device, list);
            if (before == after) return null;
            _model?.SetReachable(device, after);
            return after;
        }
    }

    /// <summary>When the binding last registered or answered a ping (the table's load time for bindings read from the store).</summary>
    public DateTimeOffset LastHeard(string device, string contact)
    {
        lock (_gate) return LivenessLocked(device, contact).Heard;
    }

    private readonly DateTimeOffset _loaded;

    /// <summary>Unanswered pings in a row of one binding.</summary>
    public int Unanswered(string device, string contact)
    {
        lock (_gate) return LivenessLocked(device, contact).Unanswered;
    }

    private bool ReachableLocked(string device, List<PhoneBinding> list) =>
        list.Any(b => LivenessLocked(device, b.Contact).Unanswered < UnreachableAfter);

    // A binding read from the store has not been heard since the table was loaded.
    private Liveness LivenessLocked(string device, string contact) =>
        _liveness.TryGetValue((device, contact), out var l) ? l : new Liveness(0, _loaded);

    /// <summary>Unanswered pings in a row after which a binding counts as unreachable.</summary>
    public int UnreachableAfter { get; init; } = 3;

    /// <summary>Removes one binding, or all of a device's bindings when contact is null (<c>Contact: *</c>).</summary>
    public void Unregister(string device, string? contact)
    {
        lock (_gate)
        {
            _store.RemoveBinding(device, contact);
            if (_bindings.TryGetValue(device, out var list))
            {
                foreach (var b in list.Where(b => contact is null || b.Contact == contact))
                {
                    _liveness.Remove((device, b.Contact));
                }
                if (contact is null) list.Clear();
                else list.RemoveAll(b => b.Contact == contact);
                if (list.Count == 0) _bindings.Remove(device);
            }
            _model?.SetReachable(device, _bindings.TryGetValue(device, out var rest) && ReachableLocked(device, rest));
        }
    }

    /// <summary>The device's live bindings, newest expiry first.</summary>
    public IReadOnlyList<PhoneBinding> Lookup(string device)
    {
        lock (_gate)
        {
            if (!_bindings.TryGetValue(device, out var list)) return [];
            var now = _time.GetUtcNow();
            // A binding that stopped answering pings goes last: another phone of the device is more likely to ring.
            return [.. list.Where(b => b.Expires > now).OrderBy(b => LivenessLocked(device, b.Contact).Unanswered > 0 ? 1 : 0).ThenByDescending(b => b.Expires)];
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
                    _liveness.Remove((device, b.Contact));
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

    private readonly record struct Liveness(int Unanswered, DateTimeOffset Heard);
}
