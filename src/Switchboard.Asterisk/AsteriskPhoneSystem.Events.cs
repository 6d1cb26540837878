using Microsoft.Extensions.Logging;
using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>The event side: AMI events turned into call-model changes. Every handler runs under the model lock.</summary>
public sealed partial class AsteriskPhoneSystem
{
    private readonly Dictionary<string, Chan> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Call> _callsByLinkedid = new(StringComparer.Ordinal);
    private readonly List<PendingOriginate> _pending = [];

    /// <summary>One Asterisk channel we track; it is the Tag of the device connection it carries.</summary>
    internal sealed class Chan(string name, string uniqueid, string linkedid, string? device)
    {
        public string Name { get; set; } = name;
        public string Uniqueid { get; } = uniqueid;
        public string Linkedid { get; set; } = linkedid;
        public string? Device { get; } = device;
        public int State { get; set; }
        public Connection? Conn { get; set; }
        public bool Originator => Uniqueid == Linkedid;
        public bool PickupLeg { get; set; }

        /// <summary>The ConfBridge room the channel talks in, between ConfbridgeJoin and ConfbridgeLeave.</summary>
        public string? Room { get; set; }
    }

    private sealed class PendingOriginate(string device, string channelId, bool pickup)
    {
        public string Device { get; } = device;
        public string ChannelId { get; } = channelId;
        public bool Pickup { get; } = pickup;
        public Connection? Connection { get; set; }
        public Chan? Channel { get; set; }
    }

    /// <summary>The device behind a channel name such as "PJSIP/100-0000009c", via the channel template.</summary>
    internal string? DeviceOf(string channel)
    {
        var span = channel.AsSpan();
        int dash = span.LastIndexOf('-');
        if (dash > 0 && span.StartsWith(_channelPrefix, StringComparison.Ordinal)) span = span[..dash];
        if (!span.StartsWith(_channelPrefix, StringComparison.Ordinal) || !span.EndsWith(_channelSuffix, StringComparison.Ordinal)) return null;
        var dev = span[_channelPrefix.Length..(span.Length - _channelSuffix.Length)].ToString();
        return _model.IsDevice(dev) ? dev : null;
    }

    private void OnEvent(AmiEvent ev)
    {
        lock (_model.SyncRoot)
        {
            switch (ev)
            {
                case ChannelEvent { Name: "Newchannel" } e: OnNewchannel(e); break;
                case ChannelEvent { Name: "Newstate" } e: OnNewstate(e); break;
                case ChannelEvent { Name: "Hold" } e: OnHold(e, true); break;
                case ChannelEvent { Name: "Unhold" } e: OnHold(e, false); break;
                case HangupEvent e: if (!OnFailedHangup(e)) OnHangup(e.Channel.Uniqueid, CauseText(e)); break;
                case OriginateResponseEvent e: OnOriginateResponse(e); break;
                case BlindTransferEvent e: OnBlindTransfer(e); break;
                case PickupEvent e: OnPickup(e); break;
                case ConfbridgeEvent { Name: "ConfbridgeJoin" } e: OnConfbridgeJoin(e); break;
                case ConfbridgeEvent { Name: "ConfbridgeLeave" } e: OnConfbridgeLeave(e); break;
                case RenameEvent e: if (_channels.TryGetValue(e.Uniqueid, out var rc)) rc.Name = e.NewName; break;
                case DeviceStateChangeEvent e: OnDeviceState(e.Device, e.State); break;
                case PeerStatusEvent e: if (DeviceOf(e.Peer) is { } pd) SetReachable(pd, !e.Status.Equals("Unreachable", StringComparison.OrdinalIgnoreCase)); break;
                case ContactStatusEvent e: if (_model.IsDevice(e.Aor)) SetReachable(e.Aor, !e.Status.Equals("Removed", StringComparison.OrdinalIgnoreCase) && !e.Status.Equals("Unreachable", StringComparison.OrdinalIgnoreCase)); break;
            }
        }
    }

    private void OnNewchannel(ChannelEvent e)
    {
        if (_channels.ContainsKey(e.Uniqueid)) return;
        var chan = new Chan(e.Channel, e.Uniqueid, e.Linkedid, DeviceOf(e.Channel)) { State = e.ChannelState };
        _channels[e.Uniqueid] = chan;
        if (chan.Device is not { } device || !chan.Originator) return;
        // Our originates are found by ChannelId (Asterisk uses it as Uniqueid), else by device: a replayed or
        // older Asterisk may not honour ChannelId.
        var pending = _pending.FirstOrDefault(p => p.ChannelId == e.Uniqueid)
            ?? _pending.FirstOrDefault(p => p.Device == device && p.Channel is null && (e.Exten is "s" or ""));
        if (pending is not null)
        {
            pending.Channel = chan;
            if (pending.Pickup)
            {
                chan.PickupLeg = true;
                return;
            }
            if (pending.Connection is { } c && !c.Call.Ended)
            {
                Bind(chan, c);
                _callsByLinkedid[chan.Linkedid] = c.Call;
                return;
            }
        }
        // Someone else's originate rings the phone in extension "s": the destination is not known yet, so the call
        // starts when the far leg appears (CallFor).
        if (e.Exten is "s" or "") return;
        var conn = _model.StartCall(device, e.Exten);
        Bind(chan, conn);
        _callsByLinkedid[chan.Linkedid] = conn.Call;
    }

    private void OnNewstate(ChannelEvent e)
    {
        if (!_channels.TryGetValue(e.Uniqueid, out var chan)) return;
        chan.State = e.ChannelState;
        if (chan.Device is not { } device || chan.Originator || chan.PickupLeg) return;
        if (e.ChannelState is not (ChannelEvent.StateRinging or ChannelEvent.StateUp)) return;
        if (chan.Conn is null)
        {
            var call = CallFor(chan, e);
            if (call is null) return;
            // A deflection or transfer already put the new party into the call; the new channel takes that place.
            var waiting = call.Connections.FirstOrDefault(c => c.Party == device && c.Tag is null && c.State == ConnectionState.Alerting);
            Bind(chan, waiting ?? _model.AddParty(call, device, ConnectionState.Alerting, CallEventType.Delivered));
        }
        if (e.ChannelState == ChannelEvent.StateUp && chan.Conn is { State: ConnectionState.Alerting } ringing)
            _model.Establish(ringing);
    }

    private Call? CallFor(Chan chan, ChannelEvent e)
    {
        if (_callsByLinkedid.TryGetValue(chan.Linkedid, out var call) && !call.Ended) return call;
        if (_channels.TryGetValue(chan.Linkedid, out var originated) && originated.Conn is null && originated.Device is { } from && !originated.PickupLeg)
        {
            var placed = _model.StartCall(from, chan.Device!);
            Bind(originated, placed);
            _callsByLinkedid[chan.Linkedid] = placed.Call;
            return placed.Call;
        }
        // The caller is no device of ours (a trunk, or a phone outside the device list): the call starts here.
        var caller = e.ConnectedLineNum is { Length: > 0 } n && n != "<unknown>" ? n : "unknown";
        var start = _model.StartCall(caller, chan.Device!);
        if (_channels.TryGetValue(chan.Linkedid, out var origin) && origin.Conn is null && origin.Device is null) Bind(origin, start);
        _callsByLinkedid[chan.Linkedid] = start.Call;
        return start.Call;
    }

    private void OnHold(ChannelEvent e, bool hold)
    {
        if (!_channels.TryGetValue(e.Uniqueid, out var chan) || chan.Conn is not { } conn || !conn.IsDevice) return;
        // Hold/Unhold are not balanced (an Unhold comes with every blind transfer), so only real changes are announced.
        if (hold && conn.State == ConnectionState.Connected) _model.ChangeState(conn, ConnectionState.Held, CallEventType.Held);
        else if (!hold && conn.State == ConnectionState.Held) _model.ChangeState(conn, ConnectionState.Connected, CallEventType.Retrieved);
    }

    private void OnHangup(string uniqueid, string cause)
    {
        if (!_channels.Remove(uniqueid, out var chan)) return;
        _pending.RemoveAll(p => p.Channel == chan);
        if (chan.Conn is not { } conn || conn.Call.Ended || !conn.Call.Connections.Contains(conn)) return;
        _model.Clear(conn, cause, conn.State == ConnectionState.Alerting ? CallOutcome.Rejected : CallOutcome.Abandoned);
        if (conn.Call.Ended) HangUpLoneMembers(conn.Call);
    }

    private void OnOriginateResponse(OriginateResponseEvent e)
    {
        var device = DeviceOf(e.Channel);
        var pending = _pending.FirstOrDefault(p => p.ChannelId == e.Uniqueid)
            ?? _pending.FirstOrDefault(p => p.Channel is { } c && c.Uniqueid == e.Uniqueid)
            ?? _pending.FirstOrDefault(p => p.Device == device);
        if (pending is null) return;
        _pending.Remove(pending);
        if (e.Success) return;
        var reason = e.Reason switch
        {
            3 => "no answer",
            5 => "busy",
            8 => "congestion",
            _ => "phone unreachable, busy or refused",
        };
        LogOriginateFailed(_log, pending.Device, e.Reason, reason);
        if (pending.Connection is { } conn && !conn.Call.Ended) _model.Fail(conn, reason, CallOutcome.Failed);
    }

    private void OnBlindTransfer(BlindTransferEvent e)
    {
        if (!e.Result.Equals("Success", StringComparison.OrdinalIgnoreCase)) return;
        if (!_channels.TryGetValue(e.TransfererUniqueid, out var transferer) || transferer.Conn is not { } conn) return;
        if (conn.Call.Ended || !conn.Call.Connections.Contains(conn)) return;
        _model.Divert(conn, e.Extension, ConnectionState.Alerting, "transferred by " + (transferer.Device ?? transferer.Name));
    }

    private void OnPickup(PickupEvent e)
    {
        if (!_channels.TryGetValue(e.Uniqueid, out var picker) || picker.Device is not { } device) return;
        if (!_channels.TryGetValue(e.TargetUniqueid, out var target) || target.Conn is not { } ringing) return;
        if (ringing.Call.Ended || !ringing.Call.Connections.Contains(ringing)) return;
        // A phone that dialled the pickup code had a call of its own; it is replaced by the picked-up call.
        if (picker.Conn is { } own && !own.Call.Ended) _model.EndCall(own.Call, "picked up a call");
        picker.PickupLeg = false;
        picker.Linkedid = target.Linkedid;
        Bind(picker, _model.Divert(ringing, device, ConnectionState.Connected, "picked up by " + device));
    }

    private void OnDeviceState(string deviceName, string state)
    {
        if (DeviceOf(deviceName) is not { } device) return;
        SetReachable(device, !(state.Equals("UNAVAILABLE", StringComparison.OrdinalIgnoreCase) || state.Equals("INVALID", StringComparison.OrdinalIgnoreCase)));
    }

    private void SetReachable(string device, bool reachable)
    {
        if (_model.IsReachable(device) == reachable) return;
        LogDeviceState(_log, device, reachable ? "reachable" : "unreachable");
        _model.SetReachable(device, reachable);
    }

    private static void Bind(Chan chan, Connection conn)
    {
        chan.Conn = conn;
        conn.Tag = chan;
    }

    private static string CauseText(HangupEvent e) => e.Cause switch
    {
        16 => "hung up",
        17 => "busy",
        19 or 18 => "no answer",
        21 => "rejected",
        26 => "answered elsewhere",
        0 => "hung up",
        _ => e.CauseText.Length > 0 ? e.CauseText.ToLowerInvariant() : "cause " + e.Cause,
    };

    /// <summary>
    /// After each login: re-read device states and channels. Both snapshots are applied on the reading task when their
    /// list completes, so they are ordered with the events around them; calls whose channels are gone are cleared.
    /// </summary>
    private async Task ResyncAsync(CancellationToken ct)
    {
        var states = await _ami.SendAsync(new AmiAction("DeviceStateList"), ct, r =>
        {
            if (!r.IsSuccess) return;
            lock (_model.SyncRoot)
                foreach (var item in r.Items)
                    if (item["Device"] is { } d && item["State"] is { } s) OnDeviceState(d, s);
        }).ConfigureAwait(false);
        if (!states.IsSuccess) await ReadEndpointStatesAsync(states.Message, ct).ConfigureAwait(false);
        var channels = await _ami.SendAsync(new AmiAction("CoreShowChannels"), ct, r =>
        {
            if (r.IsSuccess) ApplyChannelSnapshot(r.Items);
        }).ConfigureAwait(false);
        // Without a snapshot nothing can be told stale, so the calls stay as they were rather than all being cleared.
        if (!channels.IsSuccess) LogNoChannelSnapshot(_log, channels.Message);
        await ReadForwardingAsync(ct).ConfigureAwait(false);
    }

    /// <summary>AstDB is where the dialplan looks, so its CF/DND keys win over what the model remembered.</summary>
    private async Task ReadForwardingAsync(CancellationToken ct)
    {
        var cf = await _ami.SendAsync(new AmiAction("DBGetTree").Add("Family", _options.ForwardFamily), ct).ConfigureAwait(false);
        var dnd = await _ami.SendAsync(new AmiAction("DBGetTree").Add("Family", _options.DndFamily), ct).ConfigureAwait(false);
        if (!cf.IsSuccess || !dnd.IsSuccess)
        {
            LogNoForwarding(_log, cf.IsSuccess ? dnd.Message : cf.Message);
            return;
        }
        var forwards = TreeValues(cf, _options.ForwardFamily);
        var dnds = TreeValues(dnd, _options.DndFamily);
        lock (_model.SyncRoot)
        {
            foreach (var device in _model.Devices)
            {
                var setting = dnds.ContainsKey(device) ? ForwardingSetting.Dnd
                    : forwards.TryGetValue(device, out var target) && target.Length > 0 ? ForwardingSetting.To(target) : ForwardingSetting.Off;
                if (_model.GetForwarding(device) != setting) _model.SetForwarding(device, setting);
            }
        }
    }

    /// <summary>DBGetTree items carry the full path ("/CF/100"); only keys directly under the family count.</summary>
    private static Dictionary<string, string> TreeValues(AmiResponse r, string family)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var prefix = "/" + family + "/";
        foreach (var item in r.Items)
        {
            if (item["Key"] is not { } key || !key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var name = key[prefix.Length..];
            if (name.Length > 0 && !name.Contains('/', StringComparison.Ordinal)) result[name] = item["Val"] ?? "";
        }
        return result;
    }

    internal void ApplyChannelSnapshot(IReadOnlyList<AmiPacket> items)
    {
        lock (_model.SyncRoot)
        {
            var live = items.Select(p => AmiEvent.From(p)).OfType<ChannelEvent>().ToList();
            var ids = live.Select(c => c.Uniqueid).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _channels.Keys.Where(k => !ids.Contains(k)).ToList()) OnHangup(gone, "ended while disconnected");
            _pending.Clear();
            // Leaving calls whose channels were all gone from the model: nothing else can clear them now.
            foreach (var call in _model.Calls)
                if (call.Connections.All(c => c.Tag is not Chan)) _model.EndCall(call, "ended while disconnected");
            foreach (var c in live.Where(c => c.Uniqueid == c.Linkedid).Concat(live.Where(c => c.Uniqueid != c.Linkedid)))
            {
                if (_channels.ContainsKey(c.Uniqueid)) continue;
                OnNewchannel(c);
                if (c.ChannelState is ChannelEvent.StateRinging or ChannelEvent.StateUp) OnNewstate(c);
            }
            LogResynced(_log, live.Count, _model.Calls.Count);
        }
    }

    private void OnDisconnected(Exception? error)
    {
        lock (_model.SyncRoot)
        {
            // The originates in flight lose their answers with the connection; the re-read after reconnect decides.
            _pending.Clear();
        }
    }
}
