using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Asterisk.Ami;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>
/// The nine TAPIMaster services on an existing Asterisk through AMI. Commands become AMI actions; the shared
/// <see cref="CallModel"/> is built from the AMI event stream (channels map to devices through the channel template,
/// Linkedid groups the channels of one call), so Status, Monitor and events look like the built-in switch's.
/// </summary>
public sealed partial class AsteriskPhoneSystem : ICallControl, IHostedService, IAsyncDisposable
{
    private readonly CallModel _model;
    private readonly AsteriskOptions _options;
    private readonly AmiClient _ami;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly string _channelPrefix;
    private readonly string _channelSuffix;
    private CancellationTokenSource? _cts;
    private Task? _run;

    /// <summary>Creates the connector over a call model whose devices are the Asterisk extensions it controls.</summary>
    public AsteriskPhoneSystem(CallModel model, AsteriskOptions options, ILoggerFactory? loggers = null, TimeProvider? time = null)
    {
        _model = model;
        _options = options;
        _log = (ILogger?)loggers?.CreateLogger<AsteriskPhoneSystem>() ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _ami = new AmiClient(options.ToClientOptions(), loggers?.CreateLogger<AmiClient>(), time);
        _ami.EventReceived = OnEvent;
        _ami.LoggedIn = ResyncAsync;
        _ami.Disconnected = OnDisconnected;
        int hole = options.ChannelTemplate.IndexOf("{0}", StringComparison.Ordinal);
        if (hole < 0) throw new ArgumentException("ChannelTemplate must contain {0}", nameof(options));
        _channelPrefix = options.ChannelTemplate[..hole];
        _channelSuffix = options.ChannelTemplate[(hole + 3)..];
    }

    /// <inheritdoc />
    public string Kind => "asterisk";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Devices => _model.Devices;

    /// <summary>The underlying call model.</summary>
    public CallModel Model => _model;

    /// <inheritdoc />
    public string? UnavailableReason => _ami.IsConnected ? null : "not connected to Asterisk";

    /// <summary>True while logged in to Asterisk.</summary>
    public bool IsConnected => _ami.IsConnected;

    internal AmiClient Ami => _ami;

    /// <summary>Starts the AMI connection loop (it reconnects by itself).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _cts = new CancellationTokenSource();
        _run = _ami.RunAsync(_cts.Token);
        return Task.CompletedTask;
    }

    /// <summary>Logs off and stops reconnecting.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_cts is null) return;
        await _cts.CancelAsync().ConfigureAwait(false);
        await _ami.LogoffAsync().ConfigureAwait(false);
        if (_run is not null) await _run.WaitAsync(cancellationToken).ConfigureAwait(false);
        _cts.Dispose();
        _cts = null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _ami.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default)
    {
        var what = $"MakeCall {device} {destination}";
        if (Check(what, device) is { } fail) return fail;
        if (destination == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: a device cannot call itself");
        if (destination.Length == 0) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: no destination");
        var channelId = NewChannelId();
        var action = new AmiAction("Originate")
            .Add("Channel", DialString(device))
            .Add("Context", _options.Context)
            .Add("Exten", destination)
            .Add("Priority", "1")
            .Add("Timeout", (_options.RingTimeoutSeconds * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Add("ChannelId", channelId)
            .Add("Async", "true");
        AddConnectedLine(action, $"Call {destination}", destination);
        AddAutoAnswer(action);
        var pending = new PendingOriginate(device, channelId, false);
        lock (_model.SyncRoot) _pending.Add(pending);
        var r = await SendAsync(what, action, cancellationToken, resp =>
        {
            lock (_model.SyncRoot)
            {
                if (!resp.IsSuccess) { _pending.Remove(pending); return; }
                // Started when Asterisk accepted the originate, on the reading task, so the Newchannel that follows finds it.
                pending.Connection = _model.StartCall(device, destination);
            }
        }).ConfigureAwait(false);
        if (r.Failure is { } f) { lock (_model.SyncRoot) _pending.Remove(pending); return f; }
        if (!r.Response!.IsSuccess) return MapError(what, r.Response, destination);
        LogOriginateQueued(_log, device, destination, channelId);
        string? callId;
        lock (_model.SyncRoot) callId = pending.Connection?.Call.Id;
        // The call id lets a client match the events that follow (an extension of the seed's reply, DESIGN.md §4).
        return CallControlResult.Ok(callId is null ? $"{what}: calling {device}, then {destination}" : $"{what}: call {callId}, calling {device}, then {destination}");
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Drop {device}";
        if (Check(what, device) is { } fail) return fail;
        Connection? conn = _model.FirstInState(device, ConnectionState.Connected)
            ?? _model.FirstInState(device, ConnectionState.Initiated)
            ?? _model.FirstInState(device, ConnectionState.Alerting)
            ?? _model.FirstInState(device, ConnectionState.Held);
        if (conn is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no call at {device}");
        if (conn.Tag is not Chan chan) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call is not set up at Asterisk yet");
        if (chan.Room is { } room) return await KickAsync(what, conn, chan, room, cancellationToken).ConfigureAwait(false);
        // Read before sending: the Hangup event can clear the connection before the response is handled here.
        var verb = conn.State == ConnectionState.Alerting ? "rejected" : "hung up";
        var r = await SendAsync(what, new AmiAction("Hangup").Add("Channel", chan.Name), cancellationToken).ConfigureAwait(false);
        if (r.Failure is { } f) return f;
        if (!r.Response!.IsSuccess) return MapError(what, r.Response, null);
        return CallControlResult.Ok($"{what}: {verb} call {conn.Call.Id}");
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default)
    {
        var what = $"Redirect {device} {target}";
        if (Check(what, device) is { } fail) return fail;
        if (target == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: target is {device} itself");
        if (_model.FirstInState(device, ConnectionState.Alerting) is { } ringing)
        {
            // Deflect: the channel that dials this phone is sent to the target; Asterisk cancels the ringing leg.
            var caller = _model.PartnersOf(ringing).Select(p => p.Tag).OfType<Chan>().FirstOrDefault();
            if (caller is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the calling channel of the ringing call is unknown");
            var action = new AmiAction("Redirect").Add("Channel", caller.Name).Add("Exten", target).Add("Context", _options.Context).Add("Priority", "1");
            var r = await SendAsync(what, action, cancellationToken, resp =>
            {
                if (!resp.IsSuccess) return;
                lock (_model.SyncRoot)
                    if (!ringing.Call.Ended && ringing.Call.Connections.Contains(ringing))
                        _model.Divert(ringing, target, ConnectionState.Alerting, "deflected by " + device);
            }).ConfigureAwait(false);
            if (r.Failure is { } f) return f;
            if (!r.Response!.IsSuccess) return MapError(what, r.Response, target);
            return CallControlResult.Ok($"{what}: deflected call {ringing.Call.Id} to {target}");
        }
        if (_model.FirstInState(device, ConnectionState.Connected) is { } connected && connected.Tag is Chan own)
        {
            var action = new AmiAction("BlindTransfer").Add("Channel", own.Name).Add("Exten", target).Add("Context", _options.Context);
            var r = await SendAsync(what, action, cancellationToken).ConfigureAwait(false);
            if (r.Failure is { } f) return f;
            if (!r.Response!.IsSuccess) return MapError(what, r.Response, target);
            return CallControlResult.Ok($"{what}: transferred call {connected.Call.Id} to {target}");
        }
        return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing or connected call at {device}");
    }

    /// <inheritdoc />
    public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Toggle {device}";
        if (Check(what, device) is { } fail) return ValueTask.FromResult(fail);
        // Hold is a phone-side re-INVITE; AMI has no action that makes Asterisk hold or retrieve a SIP phone's call.
        return ValueTask.FromResult(CallControlResult.Fail(ReplyCode.NotImplemented,
            $"{what}: Asterisk's manager interface cannot put a phone's call on hold or retrieve it; use the phone's hold key (hold is shown as events)"));
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default)
    {
        var what = $"Transfer {device}";
        if (Check(what, device) is { } fail) return fail;
        var held = _model.FirstInState(device, ConnectionState.Held);
        var active = _model.ActiveOf(device);
        if (held is null || active is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: needs an active and a held call at {device}");
        var heldPartner = _model.PartnersOf(held).Select(p => p.Tag).OfType<Chan>().FirstOrDefault();
        var activePartner = _model.PartnersOf(active).Select(p => p.Tag).OfType<Chan>().FirstOrDefault();
        if (heldPartner is null || activePartner is null)
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: a partner's channel is unknown");
        // Bridge pulls both partners out of their bridges into a new one; the device's own channels are then hung up.
        var action = new AmiAction("Bridge").Add("Channel1", heldPartner.Name).Add("Channel2", activePartner.Name).Add("Tone", "no");
        var r = await SendAsync(what, action, cancellationToken, resp =>
        {
            if (!resp.IsSuccess) return;
            lock (_model.SyncRoot)
                if (!held.Call.Ended && !active.Call.Ended) _model.Transfer(active, held);
        }).ConfigureAwait(false);
        if (r.Failure is { } f) return f;
        if (!r.Response!.IsSuccess) return MapError(what, r.Response, null);
        foreach (var own in new[] { held.Tag, active.Tag }.OfType<Chan>())
            await SendAsync(what, new AmiAction("Hangup").Add("Channel", own.Name), cancellationToken).ConfigureAwait(false);
        return CallControlResult.Ok($"{what}: partners joined");
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default)
    {
        var what = $"Pickup {device} {other}";
        if (Check(what, device) is { } fail) return fail;
        if (!_model.IsDevice(other)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {other}");
        if (other == device) return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: a device cannot pick up its own call");
        if (_model.FirstInState(other, ConnectionState.Alerting) is null) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: no ringing call at {other}");
        var channelId = NewChannelId();
        var action = new AmiAction("Originate").Add("Channel", DialString(device)).Add("Application", "Pickup")
            .Add("Data", $"{other}@{_options.Context}")
            .Add("Timeout", (_options.RingTimeoutSeconds * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Add("ChannelId", channelId).Add("Async", "true");
        AddConnectedLine(action, $"Pickup {other}", other);
        AddAutoAnswer(action);
        var pending = new PendingOriginate(device, channelId, true);
        lock (_model.SyncRoot) _pending.Add(pending);
        var r = await SendAsync(what, action, cancellationToken).ConfigureAwait(false);
        if (r.Failure is { } f || !r.Response!.IsSuccess)
        {
            lock (_model.SyncRoot) _pending.Remove(pending);
            return r.Failure ?? MapError(what, r.Response!, null);
        }
        return CallControlResult.Ok($"{what}: ringing {device} to pick up the call at {other}");
    }

    /// <inheritdoc />
    public async ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default)
    {
        var what = setting.Mode switch
        {
            ForwardingMode.ForwardAll => $"Forward {device} {setting.Target}",
            ForwardingMode.DoNotDisturb => $"Forward {device} *",
            _ => $"Forward {device}",
        };
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (!_ami.IsConnected) return CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: not connected to Asterisk");
        if (setting.Mode == ForwardingMode.ForwardAll && setting.Target == device)
            return CallControlResult.Fail(ReplyCode.BadRequest, $"{what}: target is {device} itself");
        // The dialplan reads these AstDB keys; the key that does not apply is deleted so the two never both hold.
        var steps = setting.Mode switch
        {
            ForwardingMode.ForwardAll => new[] { DbPut(_options.ForwardFamily, device, setting.Target!), DbDel(_options.DndFamily, device) },
            ForwardingMode.DoNotDisturb => [DbPut(_options.DndFamily, device, "YES"), DbDel(_options.ForwardFamily, device)],
            _ => [DbDel(_options.DndFamily, device), DbDel(_options.ForwardFamily, device)],
        };
        foreach (var step in steps)
        {
            var r = await SendAsync(what, step, cancellationToken).ConfigureAwait(false);
            if (r.Failure is { } f) return f;
            // Deleting a key that is not there is fine: the setting is off either way.
            if (!r.Response!.IsSuccess && step.Name != "DBDel")
                return CallControlResult.Fail(ReplyCode.InternalError, $"{what}: Asterisk refused {step.Name}: {r.Response.Message}");
        }
        return await _model.ForwardAsync(device, setting, what).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_model.Status(device));

    private static AmiAction DbPut(string family, string key, string value) => new AmiAction("DBPut").Add("Family", family).Add("Key", key).Add("Val", value);

    private static AmiAction DbDel(string family, string key) => new AmiAction("DBDel").Add("Family", family).Add("Key", key);

    private CallControlResult? Check(string what, string device)
    {
        if (!_model.IsDevice(device)) return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: unknown device {device}");
        if (!_ami.IsConnected) return CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: not connected to Asterisk");
        if (!_model.IsReachable(device)) return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: no phone registered at {device}");
        return null;
    }

    private readonly record struct SendResult(AmiResponse? Response, CallControlResult? Failure);

    private async Task<SendResult> SendAsync(string what, AmiAction action, CancellationToken ct, Action<AmiResponse>? onCompleted = null)
    {
        try
        {
            return new SendResult(await _ami.SendAsync(action, ct, onCompleted).ConfigureAwait(false), null);
        }
        catch (AmiConnectionException ex)
        {
            return new SendResult(null, CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: {ex.Message}"));
        }
        catch (TimeoutException ex)
        {
            LogActionTimeout(_log, what, ex.Message);
            return new SendResult(null, CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: {ex.Message}"));
        }
    }

    /// <summary>Asterisk's error texts vary by action (see the transcripts), so they are matched loosely.</summary>
    private CallControlResult MapError(string what, AmiResponse r, string? destination)
    {
        var m = r.Message;
        LogActionRefused(_log, what, r.Packet.Kind, m);
        if (m.Contains("Permission denied", StringComparison.OrdinalIgnoreCase))
            return CallControlResult.Fail(ReplyCode.Unavailable, $"{what}: the AMI user lacks the permission for this action ({m})");
        if (m.Contains("Extension does not exist", StringComparison.OrdinalIgnoreCase))
            return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: {destination} does not exist in context {_options.Context}");
        if (m.Contains("does not exist", StringComparison.OrdinalIgnoreCase) || m.Contains("No such channel", StringComparison.OrdinalIgnoreCase))
            return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the call has already ended ({m})");
        if (m.Contains("Originate failed", StringComparison.OrdinalIgnoreCase))
            return CallControlResult.Fail(ReplyCode.Unreachable, $"{what}: Asterisk could not call the phone ({m})");
        if (m.Contains("Invalid channel", StringComparison.OrdinalIgnoreCase))
            return CallControlResult.Fail(ReplyCode.InternalError, $"{what}: ChannelTemplate '{_options.ChannelTemplate}' gives an invalid dial string ({m})");
        return CallControlResult.Fail(ReplyCode.InternalError, $"{what}: Asterisk: {m}");
    }

    private string DialString(string device) => string.Format(System.Globalization.CultureInfo.InvariantCulture, _options.ChannelTemplate, device);

    private void AddAutoAnswer(AmiAction action)
    {
        var h = _options.AutoAnswerHeader;
        int colon = h.IndexOf(':');
        if (colon <= 0) return;
        action.Add("Variable", $"PJSIP_HEADER(add,{h[..colon].Trim()})={h[(colon + 1)..].Trim()}");
    }

    /// <summary>
    /// What the device's own phone shows while it rings for the call it places. Originate's CallerID would be copied
    /// by Dial() to the called phone as the caller, so the channel keeps the endpoint's own caller ID (pjsip.conf
    /// <c>callerid</c>) and only its connected line, which is what PJSIP puts into this INVITE's From, names the
    /// destination. Asterisk sets these variables before it places the call.
    /// </summary>
    private static void AddConnectedLine(AmiAction action, string name, string number)
    {
        action.Add("Variable", $"CONNECTEDLINE(name)={name}");
        action.Add("Variable", $"CONNECTEDLINE(num)={number}");
    }

    private static string NewChannelId() => "cti-" + Guid.NewGuid().ToString("N")[..16];
}
