using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Telephony;

namespace Switchboard.Simulation;

/// <summary>
/// A SIMULATED phone system: simulated phones ring and answer when told to with Answer; outside numbers reach a simulated
/// outside party that answers after a delay. For development, demos and tests; no real phone rings.
/// </summary>
public sealed class SimulatedPhoneSystem : ICallControl, IDisposable
{
    private readonly CallModel _model;
    private readonly SimulationOptions _options;
    private readonly DialPlan _dialPlan;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly HashSet<string> _manualAnswer;
    private readonly List<ITimer> _timers = [];
    private readonly OutsideCallPolicy _outside;

    /// <summary>Creates the simulation over a call model whose devices it simulates.</summary>
    public SimulatedPhoneSystem(CallModel model, SimulationOptions options, TimeProvider? time = null, ILogger<SimulatedPhoneSystem>? log = null,
        OutsideCallPolicy? outsidePolicy = null)
    {
        _model = model;
        _outside = outsidePolicy ?? OutsideCallPolicy.Open;
        _options = options;
        _dialPlan = new DialPlan(options.MinOutsideDigits);
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _manualAnswer = new HashSet<string>(options.ManualAnswerDevices, StringComparer.Ordinal);
        foreach (var d in options.UnreachableDevices) _model.SetReachable(d, false);
        SimulationLog.Started(_log, string.Join(",", model.Devices.Order()), options.OutsideAnswerDelay);
    }

    /// <inheritdoc />
    public string Kind => "simulated";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Devices => _model.Devices;

    /// <summary>The underlying call model.</summary>
    public CallModel Model => _model;

    /// <inheritdoc />
    public ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"MakeCall {device} {destination}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (destination == device) return Fail(ReplyCode.BadRequest, $"{what}: a device cannot call itself");
            var kind = _dialPlan.Classify(destination, _model.IsDevice);
            if (kind == NumberKind.UnknownExtension) return Fail(ReplyCode.NotFound, $"{what}: unknown extension {destination}");
            if (kind == NumberKind.Outside && _outside.Check(device, destination) is { } refused)
                return Fail(ReplyCode.Forbidden, $"{what}: {refused}");
            if (kind == NumberKind.Device && !_model.IsReachable(destination))
                return Fail(ReplyCode.Unreachable, $"{what}: no phone reachable at {destination}");
            if (_model.FirstInState(device, ConnectionState.Initiated) is not null)
                return Fail(ReplyCode.WrongState, $"{what}: {device} is already placing a call");
            if (_model.ConnectionsOf(device).Count >= _options.MaxCallsPerDevice)
                return Fail(ReplyCode.WrongState, $"{what}: {device} has no free line");

            HoldActive(device);
            var caller = _model.StartCall(device, destination);
            Offer(caller.Call, destination);
            SimulationLog.CallPlaced(_log, caller.Call.Id, device, destination);
            return Ok($"{what}: call {caller.Call.Id}, calling {device}, then {destination}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Answer {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            var ringing = _model.FirstInState(device, ConnectionState.Alerting);
            if (ringing is null) return Fail(ReplyCode.WrongState, $"{what}: no ringing call at {device}");
            if (_manualAnswer.Contains(device))
                return Fail(ReplyCode.NotImplemented, $"{what}: the phone at {device} cannot be answered remotely");
            HoldActive(device);
            _model.Establish(ringing);
            return Ok($"{what}: answered call {ringing.Call.Id}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Drop {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (_model.FirstInState(device, ConnectionState.Connected) is { } connected)
            {
                _model.Clear(connected, "hung up");
                return Ok($"{what}: hung up call {connected.Call.Id}");
            }
            if (_model.FirstInState(device, ConnectionState.Initiated) is { } placing)
            {
                _model.Clear(placing, "cancelled", CallOutcome.Abandoned);
                return Ok($"{what}: cancelled call {placing.Call.Id}");
            }
            if (_model.FirstInState(device, ConnectionState.Alerting) is { } ringing)
            {
                _model.Clear(ringing, "rejected", CallOutcome.Rejected);
                return Ok($"{what}: rejected call {ringing.Call.Id}");
            }
            if (_model.FirstInState(device, ConnectionState.Held) is { } held)
            {
                _model.Clear(held, "hung up");
                return Ok($"{what}: hung up held call {held.Call.Id}");
            }
            return Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Redirect {device} {target}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (CheckTarget(what, device, target) is { } badTarget) return Done(badTarget);
            var route = _model.Resolve(target);
            if (route.DoNotDisturb) return Fail(ReplyCode.WrongState, $"{what}: {route.Target} has do-not-disturb on");
            if (_model.FirstInState(device, ConnectionState.Alerting) is { } ringing)
            {
                var moved = _model.Divert(ringing, route.Target, ConnectionState.Alerting, "deflected by " + device);
                AfterOffer(moved);
                return Ok($"{what}: deflected call {ringing.Call.Id} to {route.Target}");
            }
            if (_model.FirstInState(device, ConnectionState.Connected) is { } connected)
            {
                var moved = _model.Divert(connected, route.Target, ConnectionState.Alerting, "transferred by " + device);
                AfterOffer(moved);
                return Ok($"{what}: transferred call {connected.Call.Id} to {route.Target}");
            }
            return Fail(ReplyCode.WrongState, $"{what}: no ringing or connected call at {device}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Toggle {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            var held = _model.FirstInState(device, ConnectionState.Held);
            if (held is null) return Fail(ReplyCode.WrongState, $"{what}: no held call at {device}");
            var active = _model.FirstInState(device, ConnectionState.Connected);
            if (active is not null) _model.ChangeState(active, ConnectionState.Held, CallEventType.Held);
            else if (_model.FirstInState(device, ConnectionState.Initiated) is { } placing)
                _model.Clear(placing, "cancelled by toggle");
            _model.ChangeState(held, ConnectionState.Connected, CallEventType.Retrieved);
            return Ok(active is null ? $"{what}: retrieved call {held.Call.Id}" : $"{what}: call {active.Call.Id} held, call {held.Call.Id} active");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> HoldAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Hold {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (_model.FirstInState(device, ConnectionState.Connected) is not { } active) return Fail(ReplyCode.WrongState, $"{what}: no connected call at {device}");
            _model.ChangeState(active, ConnectionState.Held, CallEventType.Held);
            return Ok($"{what}: call {active.Call.Id} held");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> RetrieveAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Retrieve {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (_model.FirstInState(device, ConnectionState.Held) is not { } held) return Fail(ReplyCode.WrongState, $"{what}: no held call at {device}");
            if (_model.FirstInState(device, ConnectionState.Connected) is { } active)
                return Fail(ReplyCode.WrongState, $"{what}: call {active.Call.Id} is active at {device} (Toggle swaps the two)");
            _model.ChangeState(held, ConnectionState.Connected, CallEventType.Retrieved);
            return Ok($"{what}: retrieved call {held.Call.Id}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> DtmfAsync(string device, string digits, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Dtmf {device} {digits}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (_model.FirstInState(device, ConnectionState.Connected) is not { } active) return Fail(ReplyCode.WrongState, $"{what}: no connected call at {device}");
            // Simulated phones have no audio: the digits are accepted and only logged.
            _log.LogInformation("Simulated call {Call}: {Device} sends digits {Digits}", active.Call.Id, device, digits);
            return Ok($"{what}: {digits.Length} digits sent into call {active.Call.Id}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Transfer {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            var held = _model.FirstInState(device, ConnectionState.Held);
            var active = _model.ActiveOf(device);
            if (held is null || active is null)
                return Fail(ReplyCode.WrongState, $"{what}: needs an active and a held call at {device}");
            var call = _model.Transfer(active, held);
            return Ok($"{what}: partners joined in call {call.Id}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Conference {device}";
            if (Check(what, device) is { } fail) return Done(fail);
            var held = _model.FirstInState(device, ConnectionState.Held);
            var active = _model.FirstInState(device, ConnectionState.Connected);
            if (held is null || active is null)
                return Fail(ReplyCode.WrongState, $"{what}: needs a connected and a held call at {device}");
            var call = _model.Conference(active, held);
            return Ok($"{what}: conference call {call.Id} with {call.Connections.Count} parties");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = $"Pickup {device} {other}";
            if (Check(what, device) is { } fail) return Done(fail);
            if (!_model.IsDevice(other)) return Fail(ReplyCode.NotFound, $"{what}: unknown device {other}");
            if (other == device) return Fail(ReplyCode.BadRequest, $"{what}: a device cannot pick up its own call");
            var ringing = _model.FirstInState(other, ConnectionState.Alerting);
            if (ringing is null) return Fail(ReplyCode.WrongState, $"{what}: no ringing call at {other}");
            HoldActive(device);
            _model.Divert(ringing, device, ConnectionState.Connected, "picked up by " + device);
            return Ok($"{what}: picked up call {ringing.Call.Id}");
        }
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default)
    {
        lock (_model.SyncRoot)
        {
            var what = setting.Mode switch
            {
                ForwardingMode.ForwardAll => $"Forward {device} {setting.Target}",
                ForwardingMode.DoNotDisturb => $"Forward {device} *",
                _ => $"Forward {device}",
            };
            if (!_model.IsDevice(device)) return Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
            if (_options.Offline) return Fail(ReplyCode.Unavailable, $"{what}: phone system unavailable (simulation offline)");
            if (setting.Mode == ForwardingMode.ForwardAll && CheckTarget(what, device, setting.Target!) is { } bad) return Done(bad);
            // Only queued under the lock; the commit is awaited by the caller after the lock is released.
            return _model.ForwardAsync(device, setting, what);
        }
    }

    /// <inheritdoc />
    public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_model.Status(device));

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_timers)
        {
            foreach (var t in _timers) t.Dispose();
            _timers.Clear();
        }
    }

    private CallControlResult? Check(string what, string device)
    {
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (_options.Offline) return CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: phone system unavailable (simulation offline)");
        if (!_model.IsReachable(device)) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone reachable at {device}");
        return null;
    }

    private CallControlResult? CheckTarget(string what, string device, string target)
    {
        if (target == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: target is {device} itself");
        var kind = _dialPlan.Classify(target, _model.IsDevice);
        if (kind == NumberKind.UnknownExtension) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown extension {target}");
        // Moving a call or forwarding to an outside number costs the same as dialling it, so the same rules apply.
        if (kind == NumberKind.Outside && _outside.Check(device, target) is { } refused)
            return CallControlResult.Fail(ReplyCode.Forbidden, $"{what}: {refused}");
        return null;
    }

    private void HoldActive(string device)
    {
        if (_model.FirstInState(device, ConnectionState.Connected) is { } active)
            _model.ChangeState(active, ConnectionState.Held, CallEventType.Held);
    }

    private void Offer(Call call, string destination)
    {
        var route = _model.Resolve(destination);
        var cause = route.ForwardedFrom.Count > 0 ? "forwarded from " + string.Join(",", route.ForwardedFrom) : null;
        if (route.DoNotDisturb)
        {
            _model.AddParty(call, route.Target, ConnectionState.Failed, CallEventType.Failed, "do not disturb");
            _model.EndCall(call, "busy", CallOutcome.Busy);
            return;
        }
        if (_model.IsDevice(route.Target) && !_model.IsReachable(route.Target))
        {
            _model.AddParty(call, route.Target, ConnectionState.Failed, CallEventType.Failed, "unreachable");
            _model.EndCall(call, "unreachable", CallOutcome.Failed);
            return;
        }
        AfterOffer(_model.AddParty(call, route.Target, ConnectionState.Alerting, CallEventType.Delivered, cause));
    }

    /// <summary>A simulated outside party answers after the configured delay; simulated phones wait for Answer.</summary>
    private void AfterOffer(Connection ringing)
    {
        if (ringing.IsDevice) return;
        ITimer? timer = null;
        timer = _time.CreateTimer(_ =>
        {
            lock (_model.SyncRoot)
            {
                if (!ringing.Call.Ended && ringing.State == ConnectionState.Alerting && ringing.Call.Connections.Contains(ringing))
                {
                    SimulationLog.OutsideAnswers(_log, ringing.Party, ringing.Call.Id);
                    _model.Establish(ringing);
                }
            }
            lock (_timers)
            {
                if (timer is not null && _timers.Remove(timer)) timer.Dispose();
            }
        }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_timers) _timers.Add(timer);
        timer.Change(_options.OutsideAnswerDelay, Timeout.InfiniteTimeSpan);
    }

    private static ValueTask<CallControlResult> Ok(string message) => ValueTask.FromResult(CallControlResult.Ok(message));

    private static ValueTask<CallControlResult> Fail(ReplyCode code, string message) => ValueTask.FromResult(CallControlResult.Fail(code, message));

    private static ValueTask<CallControlResult> Done(CallControlResult result) => ValueTask.FromResult(result);
}
