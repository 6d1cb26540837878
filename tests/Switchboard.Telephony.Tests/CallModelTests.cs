using Switchboard.Telephony;

namespace Switchboard.Telephony.Tests;

public class CallModelTests
{
    private readonly CallEventHub _hub = new();
    private readonly RecordingJournal _journal = new();
    private readonly CallModel _model;

    public CallModelTests() => _model = new CallModel(["100", "101", "102"], _hub, journal: _journal);

    [Fact]
    public void Two_party_call_lifecycle_sets_states_and_journal()
    {
        var caller = _model.StartCall("100", "101");
        var callee = _model.AddParty(caller.Call, "101", ConnectionState.Alerting, CallEventType.Delivered);
        Assert.Equal(ConnectionState.Initiated, caller.State);
        _model.Establish(callee);
        Assert.Equal(ConnectionState.Connected, caller.State);
        Assert.Equal(ConnectionState.Connected, callee.State);
        _model.Clear(caller, "hung up");
        Assert.Empty(_model.ConnectionsOf("100"));
        Assert.Empty(_model.ConnectionsOf("101"));
        Assert.Equal(["start 1 100>101", "answer 1 101", "end 1 completed"], _journal.Lines);
    }

    [Fact]
    public void A_makecall_dropped_before_anyone_answered_is_journalled_cancelled_not_completed()
    {
        // MakeCall 100 101: 100's own phone answers its leg (that is no answer of the call), 101 rings, then Drop 100.
        var caller = _model.StartCall("100", "101");
        _model.ChangeState(caller, ConnectionState.Connected, CallEventType.Established);
        _model.AddParty(caller.Call, "101", ConnectionState.Alerting, CallEventType.Delivered);
        _model.EndCall(caller.Call, "hung up", CallOutcome.Completed);
        Assert.Equal(["start 1 100>101", "end 1 cancelled"], _journal.Lines);
    }

    [Fact]
    public void A_call_answered_and_then_interrupted_by_the_server_stopping_is_journalled_interrupted()
    {
        var caller = _model.StartCall("100", "101");
        _model.Establish(_model.AddParty(caller.Call, "101", ConnectionState.Alerting, CallEventType.Delivered));
        _model.EndCall(caller.Call, "switch stopping", CallOutcome.Interrupted);
        Assert.Equal(["start 1 100>101", "answer 1 101", "end 1 interrupted"], _journal.Lines);
    }

    [Fact]
    public void A_call_to_a_number_nothing_routes_is_journalled_not_found_without_events()
    {
        using var sub = _hub.Subscribe("*");
        var id = _model.RecordNotFound("100", "555");
        Assert.Equal("1", id);
        Assert.Equal(["start 1 100>555", "end 1 not-found"], _journal.Lines);
        Assert.False(sub.Reader.TryRead(out _));
        Assert.Empty(_model.Calls);
        Assert.Equal("2", _model.StartCall("100", "101").Call.Id);
    }

    [Fact]
    public void Transfer_joins_the_held_and_active_partners_and_releases_the_controller()
    {
        var first = _model.StartCall("101", "100");
        var at100 = _model.AddParty(first.Call, "100", ConnectionState.Alerting, CallEventType.Delivered);
        _model.Establish(at100);
        _model.ChangeState(at100, ConnectionState.Held, CallEventType.Held);
        var consult = _model.StartCall("100", "102");
        var at102 = _model.AddParty(consult.Call, "102", ConnectionState.Alerting, CallEventType.Delivered);
        _model.Establish(at102);

        var joined = _model.Transfer(consult, at100);

        Assert.Empty(_model.ConnectionsOf("100"));
        Assert.Equal(["101", "102"], joined.Connections.Select(c => c.Party).Order());
        Assert.All(joined.Connections, c => Assert.Equal(ConnectionState.Connected, c.State));
        Assert.Single(_model.Calls);
    }

    [Fact]
    public void Conference_keeps_two_parties_connected_when_one_leaves()
    {
        var a = _model.StartCall("100", "101");
        _model.Establish(_model.AddParty(a.Call, "101", ConnectionState.Alerting, CallEventType.Delivered));
        _model.ChangeState(a, ConnectionState.Held, CallEventType.Held);
        var b = _model.StartCall("100", "102");
        _model.Establish(_model.AddParty(b.Call, "102", ConnectionState.Alerting, CallEventType.Delivered));

        var conf = _model.Conference(b, a);
        Assert.Equal(3, conf.Connections.Count);

        _model.Clear(_model.ConnectionsOf("101")[0], "hung up");
        Assert.Equal(ConnectionState.Connected, _model.ConnectionsOf("100").Single().State);
        Assert.Equal(ConnectionState.Connected, _model.ConnectionsOf("102").Single().State);
    }

    [Fact]
    public void Forwarding_is_followed_and_loops_stop_at_the_last_device_before_the_loop()
    {
        _model.SetForwarding("101", ForwardingSetting.To("102"));
        Assert.Equal("102", _model.Resolve("101").Target);
        _model.SetForwarding("102", ForwardingSetting.To("101"));
        var loop = _model.Resolve("101");
        Assert.Equal("102", loop.Target);
        _model.SetForwarding("102", ForwardingSetting.Dnd);
        Assert.True(_model.Resolve("101").DoNotDisturb);
    }

    [Fact]
    public void Forwarding_is_saved_to_the_store_and_loaded_by_a_new_model()
    {
        var store = new MemoryForwardingStore();
        var m1 = new CallModel(["100", "101"], new CallEventHub(), store);
        m1.SetForwarding("100", ForwardingSetting.To("101"));
        var m2 = new CallModel(["100", "101"], new CallEventHub(), store);
        Assert.Equal(ForwardingSetting.To("101"), m2.GetForwarding("100"));
    }

    private sealed class MemoryForwardingStore : IForwardingStore
    {
        private readonly Dictionary<string, ForwardingSetting> _d = [];
        public IReadOnlyDictionary<string, ForwardingSetting> LoadAll() => new Dictionary<string, ForwardingSetting>(_d);
        public Task SaveAsync(string device, ForwardingSetting setting)
        {
            _d[device] = setting;
            return Task.CompletedTask;
        }
    }

    private sealed class RecordingJournal : ICallJournal
    {
        public List<string> Lines { get; } = [];
        public void CallStarted(string callId, string calling, string called, DateTimeOffset at) => Lines.Add($"start {callId} {calling}>{called}");
        public void CallAnswered(string callId, string answeredBy, DateTimeOffset at) => Lines.Add($"answer {callId} {answeredBy}");
        public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at) => Lines.Add($"end {callId} {CallOutcomes.Name(outcome)}");
        public IReadOnlyList<CallJournalEntry> Recent(int count) => [];
        public long MaxCallId() => 0;
    }
}
