using Microsoft.Extensions.Logging;
using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>
/// Conference on Asterisk: the parties are redirected into the ConfBridge room and the model joins them into one
/// conference call, as the built-in switch does, so Status lists every member and Drop of a member kicks it from
/// the room. When fewer than two members are left the call ends and the one left alone in the room is hung up.
/// </summary>
public sealed partial class AsteriskPhoneSystem
{
    /// <inheritdoc />
    public async ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Conference {device}";
        if (Check(what, device) is { } fail) return fail;
        var active = _model.FirstInState(device, ConnectionState.Connected);
        if (active is null || active.Tag is not Chan own) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no connected call at {device}");
        var partner = _model.PartnersOf(active).Select(p => p.Tag).OfType<Chan>().FirstOrDefault();
        if (partner is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the partner's channel is unknown");
        var held = _model.FirstInState(device, ConnectionState.Held);
        var heldPartner = held is null ? null : _model.PartnersOf(held).Select(p => p.Tag).OfType<Chan>().FirstOrDefault();
        var room = _options.ConferenceRoom;
        var ctx = _options.ConferenceContext;
        var action = new AmiAction("Redirect").Add("Channel", own.Name).Add("ExtraChannel", partner.Name)
            .Add("Exten", room).Add("ExtraExten", room).Add("Context", ctx).Add("ExtraContext", ctx).Add("Priority", "1").Add("ExtraPriority", "1");
        var r = await SendAsync(what, action, cancellationToken).ConfigureAwait(false);
        if (r.Failure is { } f) return f;
        if (!r.Response!.IsSuccess) return MapError(what, r.Response, null);
        var joined = new List<string> { device, partner.Device ?? partner.Name };
        if (held is not null && heldPartner is not null)
        {
            lock (_model.SyncRoot)
            {
                // Merged before the redirect: taking the held partner away ends the Dial() of the device's held leg,
                // and Asterisk hangs that leg up (the dialplan's next step) before it answers the Redirect. Once the
                // leg is out of the model, its hangup ends nothing.
                if (!held.Call.Ended && !active.Call.Ended && held.Call != active.Call) _model.Conference(active, held);
            }
            var r2 = await SendAsync(what, new AmiAction("Redirect").Add("Channel", heldPartner.Name).Add("Exten", room).Add("Context", ctx).Add("Priority", "1"),
                cancellationToken).ConfigureAwait(false);
            if (r2.Response is { IsSuccess: true }) joined.Add(heldPartner.Device ?? heldPartner.Name);
            else LogConferenceRedirectFailed(_log, device, heldPartner.Name, r2.Response?.Message ?? r2.Failure?.Message ?? "");
            if (held.Tag is Chan heldOwn) await SendAsync(what, new AmiAction("Hangup").Add("Channel", heldOwn.Name), cancellationToken).ConfigureAwait(false);
        }
        return CallControlResult.Ok($"{what}: {string.Join(", ", joined)} moved to conference room {room}");
    }

    /// <summary>Drop of a room member: ConfbridgeKick, so the others keep talking.</summary>
    private async Task<CallControlResult> KickAsync(string what, Connection conn, Chan chan, string room, CancellationToken ct)
    {
        var r = await SendAsync(what, new AmiAction("ConfbridgeKick").Add("Conference", room).Add("Channel", chan.Name), ct).ConfigureAwait(false);
        if (r.Failure is { } f) return f;
        if (!r.Response!.IsSuccess) return MapError(what, r.Response, null);
        return CallControlResult.Ok($"{what}: removed from conference room {room} (call {conn.Call.Id})");
    }

    private void OnConfbridgeJoin(ConfbridgeEvent e)
    {
        if (e.Uniqueid is null || !_channels.TryGetValue(e.Uniqueid, out var chan)) return;
        chan.Room = e.Conference;
        if (chan.Conn is not { IsDevice: true } conn || conn.Call.Ended) return;
        _model.ChangeState(conn, ConnectionState.Connected, CallEventType.Conferenced, "conference " + e.Conference);
    }

    private void OnConfbridgeLeave(ConfbridgeEvent e)
    {
        if (e.Uniqueid is null || !_channels.TryGetValue(e.Uniqueid, out var chan)) return;
        chan.Room = null;
        // A member kicked or gone from the room whose channel lives on (a kick hangs it up, but a Redirect does not).
        if (chan.Conn is { } conn && !conn.Call.Ended && conn.Call.Connections.Contains(conn) && conn.Call.Connections.Count > 2)
            _model.Clear(conn, "left the conference");
    }

    /// <summary>A conference call that ended with one member left: if nobody else is in the room, that member is hung up.</summary>
    private void HangUpLoneMembers(Call ended)
    {
        foreach (var c in _channels.Values)
        {
            if (c.Room is not { } room || c.Conn?.Call != ended) continue;
            // Someone who dialled the room is in a call of its own, but still talks with this member.
            if (_channels.Values.Any(o => o != c && o.Room == room)) continue;
            var name = c.Name;
            _ = _ami.SendAsync(new AmiAction("Hangup").Add("Channel", name)).ContinueWith(
                t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Conference {Device}: the held partner {Channel} could not be moved to the room: {Message}")]
    private static partial void LogConferenceRedirectFailed(ILogger log, string device, string channel, string message);
}
