namespace Switchboard.Telephony;

/// <summary>A call: the parties connected by it and when it started and was answered.</summary>
public sealed class Call
{
    internal Call(string id, string calling, string called, DateTimeOffset started)
    {
        Id = id;
        Calling = calling;
        Called = called;
        Started = started;
    }

    /// <summary>The call id, unique across restarts.</summary>
    public string Id { get; }

    /// <summary>The number that placed the call.</summary>
    public string Calling { get; }

    /// <summary>The number that was dialled.</summary>
    public string Called { get; }

    /// <summary>When the call was placed.</summary>
    public DateTimeOffset Started { get; }

    /// <summary>When a called party first answered, if it did.</summary>
    public DateTimeOffset? Answered { get; internal set; }

    /// <summary>True once the call has been cleared.</summary>
    public bool Ended { get; internal set; }

    /// <summary>The parties in the call.</summary>
    public IReadOnlyList<Connection> Connections => Parties;

    internal List<Connection> Parties { get; } = [];
}

/// <summary>The relation of one party (an own device or an outside number) to one call.</summary>
public sealed class Connection
{
    internal Connection(Call call, string party, bool isDevice, ConnectionState state)
    {
        Call = call;
        Party = party;
        IsDevice = isDevice;
        State = state;
    }

    /// <summary>The call this connection belongs to (changes when calls are merged).</summary>
    public Call Call { get; internal set; }

    /// <summary>The device or outside number.</summary>
    public string Party { get; }

    /// <summary>True for an own device (extension), false for an outside party.</summary>
    public bool IsDevice { get; }

    /// <summary>The CSTA local connection state.</summary>
    public ConnectionState State { get; internal set; }

    /// <summary>Phone-system data attached to this connection (e.g. a SIP leg or a timer).</summary>
    public object? Tag { get; set; }
}

/// <summary>Where a call to a number ends up after forwarding and do-not-disturb are applied.</summary>
public readonly record struct Route(string Target, bool DoNotDisturb, IReadOnlyList<string> ForwardedFrom);

/// <summary>
/// The call model shared by every phone system behind <see cref="ICallControl"/>: devices, calls and connections with
/// CSTA states. It does no signalling; phone systems call it as their calls change, and it keeps the forwarding store,
/// the call journal and the event stream consistent. All members are thread-safe; lock <see cref="SyncRoot"/> to make
/// several steps atomic (the lock is re-entrant).
/// </summary>
public sealed class CallModel
{
    private const int MaxForwardHops = 8;
    private readonly Dictionary<string, DeviceEntry> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Call> _calls = new(StringComparer.Ordinal);
    private readonly IForwardingStore _forwardingStore;
    private readonly ICallJournal _journal;
    private readonly TimeProvider _time;
    private long _lastCallId;

    /// <summary>Creates the model for the given devices, loading their stored forwarding settings.</summary>
    public CallModel(IEnumerable<string> devices, CallEventHub events, IForwardingStore? forwardingStore = null,
        ICallJournal? journal = null, TimeProvider? time = null)
    {
        Events = events;
        _forwardingStore = forwardingStore ?? NullStores.Instance;
        _journal = journal ?? NullStores.Instance;
        _time = time ?? TimeProvider.System;
        foreach (var d in devices) _devices[d] = new DeviceEntry(d);
        foreach (var (dev, setting) in _forwardingStore.LoadAll())
            if (_devices.TryGetValue(dev, out var e)) e.Forwarding = setting;
        _lastCallId = _journal.MaxCallId();
    }

    /// <summary>Lock this to make several model steps atomic.</summary>
    public object SyncRoot { get; } = new();

    /// <summary>The event stream the model publishes to.</summary>
    public CallEventHub Events { get; }

    /// <summary>The device numbers.</summary>
    public IReadOnlyCollection<string> Devices { get { lock (SyncRoot) return [.. _devices.Keys]; } }

    /// <summary>True when number is one of the model's devices.</summary>
    public bool IsDevice(string number) { lock (SyncRoot) return _devices.ContainsKey(number); }

    /// <summary>Marks whether a phone is reachable at the device (e.g. registered).</summary>
    public void SetReachable(string device, bool reachable)
    {
        lock (SyncRoot) if (_devices.TryGetValue(device, out var e)) e.Reachable = reachable;
    }

    /// <summary>True when a phone is reachable at the device.</summary>
    public bool IsReachable(string device) { lock (SyncRoot) return _devices.TryGetValue(device, out var e) && e.Reachable; }

    /// <summary>The device's forwarding setting.</summary>
    public ForwardingSetting GetForwarding(string device)
    {
        lock (SyncRoot) return _devices.TryGetValue(device, out var e) ? e.Forwarding : ForwardingSetting.Off;
    }

    /// <summary>
    /// The Forward service: stores the setting and, once it is committed, applies and announces it. The store's write is
    /// only queued under the model's lock; the wait for the commit happens outside it, so a locked database delays this
    /// one command (until the store's busy timeout, then 503) and never every other client. The device must exist.
    /// </summary>
    public async ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, string what)
    {
        Task commit;
        long version;
        lock (SyncRoot)
        {
            var e = _devices[device];
            version = ++e.ForwardingRequested;
            commit = _forwardingStore.SaveAsync(device, setting);
        }
        try
        {
            await commit.ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            return CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: not changed, {ex.Message}");
        }
        lock (SyncRoot)
        {
            // Commits complete in queue order, but their continuations may run in any order: an older one never
            // overwrites a newer setting.
            var e = _devices[device];
            if (version > e.ForwardingApplied)
            {
                e.ForwardingApplied = version;
                Apply(e, setting);
            }
        }
        return CallControlResult.Ok(setting.Mode switch
        {
            ForwardingMode.ForwardAll => $"{what}: calls to {device} go to {setting.Target}",
            ForwardingMode.DoNotDisturb => $"{what}: do not disturb on",
            _ => $"{what}: forwarding and do not disturb off",
        });
    }

    /// <summary>
    /// Applies and announces a setting the phone system already holds (e.g. read back from Asterisk) and queues it for the
    /// store without waiting; a failed write is reported by the store. The device must exist.
    /// </summary>
    public void SetForwarding(string device, ForwardingSetting setting)
    {
        lock (SyncRoot)
        {
            var e = _devices[device];
            e.ForwardingApplied = ++e.ForwardingRequested;
            _forwardingStore.SaveAsync(device, setting).ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Apply(e, setting);
        }
    }

    private void Apply(DeviceEntry e, ForwardingSetting setting)
    {
        var device = e.Number;
        var previous = e.Forwarding;
        e.Forwarding = setting;
        if (previous.Mode == ForwardingMode.DoNotDisturb || setting.Mode == ForwardingMode.DoNotDisturb)
        {
            if (previous.Mode != setting.Mode || setting.Mode == ForwardingMode.DoNotDisturb)
                Events.Publish(CallEventType.DoNotDisturb, device, null, ConnectionState.Null,
                    cause: setting.Mode == ForwardingMode.DoNotDisturb ? "on" : "off");
        }
        if (previous.Mode == ForwardingMode.ForwardAll || setting.Mode == ForwardingMode.ForwardAll)
            Events.Publish(CallEventType.Forwarding, device, null, ConnectionState.Null,
                called: setting.Mode == ForwardingMode.ForwardAll ? setting.Target : null,
                cause: setting.Mode == ForwardingMode.ForwardAll ? "on" : "off");
    }

    /// <summary>Follows forwarding from number; stops at a loop, at an outside number, or at do-not-disturb.</summary>
    public Route Resolve(string number)
    {
        lock (SyncRoot)
        {
            var via = new List<string>();
            var current = number;
            for (int hop = 0; hop < MaxForwardHops; hop++)
            {
                if (!_devices.TryGetValue(current, out var e)) break;
                if (e.Forwarding.Mode == ForwardingMode.DoNotDisturb) return new Route(current, true, via);
                if (e.Forwarding.Mode != ForwardingMode.ForwardAll || e.Forwarding.Target is not { } next) break;
                if (next == number || via.Contains(next)) break; // a loop rings the last device before it
                via.Add(current);
                current = next;
            }
            return new Route(current, false, via);
        }
    }

    /// <summary>All connections of a device, oldest first.</summary>
    public IReadOnlyList<Connection> ConnectionsOf(string device)
    {
        lock (SyncRoot) return _devices.TryGetValue(device, out var e) ? [.. e.Connections] : [];
    }

    /// <summary>The device's oldest connection in the given state.</summary>
    public Connection? FirstInState(string device, ConnectionState state)
    {
        lock (SyncRoot)
        {
            if (!_devices.TryGetValue(device, out var e)) return null;
            foreach (var c in e.Connections) if (c.State == state) return c;
            return null;
        }
    }

    /// <summary>The device's active call: connected, else one it is still placing.</summary>
    public Connection? ActiveOf(string device) =>
        FirstInState(device, ConnectionState.Connected) ?? FirstInState(device, ConnectionState.Initiated);

    /// <summary>The other parties of a connection's call.</summary>
    public IReadOnlyList<Connection> PartnersOf(Connection connection)
    {
        lock (SyncRoot) return [.. connection.Call.Parties.Where(p => p != connection)];
    }

    /// <summary>Looks up a live call.</summary>
    public Call? FindCall(string callId) { lock (SyncRoot) return _calls.GetValueOrDefault(callId); }

    /// <summary>Starts a call from calling to called; a device caller is Initiated (Originated), an outside caller Connected.</summary>
    public Connection StartCall(string calling, string called)
    {
        lock (SyncRoot)
        {
            var now = _time.GetUtcNow();
            var call = new Call((++_lastCallId).ToString(System.Globalization.CultureInfo.InvariantCulture), calling, called, now);
            _calls[call.Id] = call;
            _journal.CallStarted(call.Id, calling, called, now);
            bool isDevice = _devices.ContainsKey(calling);
            var c = Attach(call, calling, isDevice ? ConnectionState.Initiated : ConnectionState.Connected);
            if (isDevice) PublishToCall(call, CallEventType.Originated, calling, null);
            return c;
        }
    }

    /// <summary>
    /// Journals a call that never started because <paramref name="called"/> routes nowhere (the phone got 404): a row
    /// with outcome NotFound, so a misdialled or stale speed-dial number shows in the journal. No connection and no
    /// event: nothing rang. Returns the journal's call id.
    /// </summary>
    public string RecordNotFound(string calling, string called)
    {
        lock (SyncRoot)
        {
            var now = _time.GetUtcNow();
            var id = (++_lastCallId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _journal.CallStarted(id, calling, called, now);
            _journal.CallEnded(id, CallOutcome.NotFound, now);
            return id;
        }
    }

    /// <summary>Adds a party to a call in the given state and announces it.</summary>
    public Connection AddParty(Call call, string party, ConnectionState state, CallEventType announce, string? cause = null)
    {
        lock (SyncRoot)
        {
            var c = Attach(call, party, state);
            if (state == ConnectionState.Connected) MarkAnswered(c);
            PublishToCall(call, announce, party, cause);
            return c;
        }
    }

    /// <summary>Changes a connection's state and announces it.</summary>
    public void ChangeState(Connection connection, ConnectionState state, CallEventType announce, string? cause = null)
    {
        lock (SyncRoot)
        {
            if (connection.Call.Ended) return;
            connection.State = state;
            if (state == ConnectionState.Connected) MarkAnswered(connection);
            PublishToCall(connection.Call, announce, connection.Party, cause);
        }
    }

    /// <summary>
    /// The call is answered by <paramref name="answering"/>: it and every party still placing the call become Connected,
    /// announced as one Established event.
    /// </summary>
    public void Establish(Connection answering)
    {
        lock (SyncRoot)
        {
            if (answering.Call.Ended) return;
            answering.State = ConnectionState.Connected;
            foreach (var p in answering.Call.Parties)
                if (p.State == ConnectionState.Initiated) p.State = ConnectionState.Connected;
            MarkAnswered(answering);
            PublishToCall(answering.Call, CallEventType.Established, answering.Party, null);
        }
    }

    /// <summary>
    /// Removes a party from its call. When fewer than two parties remain, the call ends and the rest are cleared too;
    /// <paramref name="outcomeIfUnanswered"/> is journalled for a call nobody answered.
    /// </summary>
    public void Clear(Connection connection, string cause, CallOutcome outcomeIfUnanswered = CallOutcome.Cancelled)
    {
        lock (SyncRoot)
        {
            var call = connection.Call;
            if (call.Ended || !call.Parties.Contains(connection)) return;
            Detach(connection);
            connection.State = ConnectionState.Null;
            PublishToCall(call, CallEventType.ConnectionCleared, connection.Party, cause, alsoTo: connection);
            if (call.Parties.Count < 2) EndCall(call, cause, outcomeIfUnanswered);
        }
    }

    /// <summary>Marks a party as failed (busy, unreachable, refused) and ends the call.</summary>
    public void Fail(Connection connection, string cause, CallOutcome outcome)
    {
        lock (SyncRoot)
        {
            var call = connection.Call;
            if (call.Ended) return;
            connection.State = ConnectionState.Failed;
            PublishToCall(call, CallEventType.Failed, connection.Party, cause);
            EndCall(call, cause, outcome);
        }
    }

    /// <summary>Ends a call, clearing every party.</summary>
    public void EndCall(Call call, string cause, CallOutcome outcomeIfUnanswered = CallOutcome.Cancelled)
    {
        lock (SyncRoot)
        {
            if (call.Ended) return;
            foreach (var p in call.Parties.ToArray())
            {
                Detach(p);
                p.State = ConnectionState.Null;
                if (p.IsDevice)
                    Events.Publish(CallEventType.ConnectionCleared, p.Party, call.Id, ConnectionState.Null, p.Party, call.Calling, call.Called, cause);
            }
            call.Ended = true;
            _calls.Remove(call.Id);
            _journal.CallEnded(call.Id, CallOutcomes.ForJournal(outcomeIfUnanswered, call.Answered is not null), _time.GetUtcNow());
        }
    }

    /// <summary>
    /// Moves a ringing or connected party's place in the call to another party (deflection, forwarding, pickup):
    /// the old party gets Diverted, the new one joins in <paramref name="state"/>.
    /// </summary>
    public Connection Divert(Connection from, string to, ConnectionState state, string cause)
    {
        lock (SyncRoot)
        {
            var call = from.Call;
            Detach(from);
            from.State = ConnectionState.Null;
            PublishToCall(call, CallEventType.Diverted, from.Party, cause, alsoTo: from);
            var c = Attach(call, to, state);
            if (state == ConnectionState.Connected)
            {
                foreach (var p in call.Parties)
                    if (p.State == ConnectionState.Initiated) p.State = ConnectionState.Connected;
                MarkAnswered(c);
            }
            PublishToCall(call, state == ConnectionState.Connected ? CallEventType.Established : CallEventType.Delivered, to, cause);
            return c;
        }
    }

    /// <summary>
    /// Transfer: the controller leaves both calls and its partners in <paramref name="held"/> and
    /// <paramref name="active"/> become one call.
    /// </summary>
    public Call Transfer(Connection active, Connection held)
    {
        lock (SyncRoot)
        {
            var target = held.Call;
            var controller = held.Party;
            Detach(held);
            Detach(active);
            held.State = active.State = ConnectionState.Null;
            MoveParties(active.Call, target);
            PublishToCall(target, CallEventType.Transferred, controller, "transferred", alsoTo: held);
            if (target.Parties.Count < 2) EndCall(target, "transferred");
            return target;
        }
    }

    /// <summary>Conference: the controller's held call joins its active call; the controller is connected to all.</summary>
    public Call Conference(Connection active, Connection held)
    {
        lock (SyncRoot)
        {
            var target = active.Call;
            Detach(held);
            held.State = ConnectionState.Null;
            MoveParties(held.Call, target);
            active.State = ConnectionState.Connected;
            PublishToCall(target, CallEventType.Conferenced, active.Party, "conference");
            return target;
        }
    }

    /// <summary>A snapshot of one device, or null if unknown.</summary>
    public DeviceStatus? Status(string device)
    {
        lock (SyncRoot)
        {
            if (!_devices.TryGetValue(device, out var e)) return null;
            var conns = e.Connections.Select(c => new ConnectionStatus(c.Call.Id, c.State,
                [.. c.Call.Parties.Where(p => p != c).Select(p => p.Party)])).ToList();
            return new DeviceStatus(device, e.Reachable, e.Forwarding, conns);
        }
    }

    /// <summary>Live calls (snapshot).</summary>
    public IReadOnlyList<Call> Calls { get { lock (SyncRoot) return [.. _calls.Values]; } }

    private Connection Attach(Call call, string party, ConnectionState state)
    {
        var isDevice = _devices.TryGetValue(party, out var e);
        var c = new Connection(call, party, isDevice, state);
        call.Parties.Add(c);
        e?.Connections.Add(c);
        return c;
    }

    private void Detach(Connection c)
    {
        c.Call.Parties.Remove(c);
        if (_devices.TryGetValue(c.Party, out var e)) e.Connections.Remove(c);
    }

    private void MoveParties(Call from, Call to)
    {
        if (from == to) return;
        foreach (var p in from.Parties)
        {
            p.Call = to;
            to.Parties.Add(p);
        }
        from.Parties.Clear();
        from.Ended = true;
        _calls.Remove(from.Id);
        _journal.CallEnded(from.Id, CallOutcomes.ForJournal(CallOutcome.Cancelled, from.Answered is not null), _time.GetUtcNow());
    }

    private void MarkAnswered(Connection c)
    {
        var call = c.Call;
        if (call.Answered is not null || c.Party == call.Calling) return;
        call.Answered = _time.GetUtcNow();
        _journal.CallAnswered(call.Id, c.Party, call.Answered.Value);
    }

    private void PublishToCall(Call call, CallEventType type, string subject, string? cause, Connection? alsoTo = null)
    {
        if (alsoTo is { IsDevice: true })
            Events.Publish(type, alsoTo.Party, call.Id, alsoTo.State, subject, call.Calling, call.Called, cause);
        foreach (var p in call.Parties)
            if (p.IsDevice)
                Events.Publish(type, p.Party, call.Id, p.State, subject, call.Calling, call.Called, cause);
    }

    private sealed class DeviceEntry(string number)
    {
        public string Number { get; } = number;
        public ForwardingSetting Forwarding { get; set; } = ForwardingSetting.Off;
        public long ForwardingRequested { get; set; }
        public long ForwardingApplied { get; set; }
        public bool Reachable { get; set; } = true;
        public List<Connection> Connections { get; } = [];
    }
}
