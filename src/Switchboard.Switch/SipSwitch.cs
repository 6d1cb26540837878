using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Switch.Registrar;
using Switchboard.Switch.Security;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// The built-in phone system: a registrar and back-to-back user agent on the Switchboard SIP stack. Phones register
/// with digest authentication; a call from one extension to another becomes two legs, with ringing, answer, CANCEL,
/// rejection, no-answer timeout, BYE, re-INVITE and INFO carried across. A call dialled on a phone keeps its media
/// phone to phone (SDP passes through); calls set up by MakeCall, transferred calls and conferences have their media
/// in the switch's media engine. Every call is mirrored into the shared <see cref="CallModel"/>, so events, Status and
/// the journal are the same as for any other phone system.
/// </summary>
public sealed partial class SipSwitch : ICallControl, ISipTransactionUser, IAsyncDisposable
{
    private readonly SwitchOptions _options;
    private readonly CallModel _model;
    private readonly BindingTable _bindings;
    private readonly DeviceSecrets _secrets;
    private readonly DigestServer _digest;
    private readonly AuthThrottle _throttle;
    private readonly ILogger _log;
    private readonly SipTransactionLayer _layer;
    private readonly Registrar.Registrar _registrar;
    private readonly DialPlan _dialPlan = new();
    private readonly ConcurrentDictionary<string, (CallSession Call, Leg Leg)> _dialogs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ServerTransaction, CallSession> _pending = new();
    private readonly IPAddress? _rtpAddress;
    private readonly KeepAlive _keepAlive;
    private ITimer? _expiry;
    private int _disposed;

    // For the components the switch creates itself (the media engine), so their events reach the host's log too.
    private readonly ILoggerFactory? _loggers;

    /// <summary>
    /// Creates the switch; <see cref="Start"/> opens the SIP port. <paramref name="transport"/> replaces the UDP/TCP
    /// sockets of <paramref name="options"/> (e.g. an <see cref="InMemorySipTransport"/> in tests); the switch disposes it.
    /// </summary>
    public SipSwitch(SwitchOptions options, CallModel model, IPhoneBindingStore bindingStore, IDeviceSecretStore secretStore,
        TimeProvider? time = null, ILogger<SipSwitch>? log = null, ISipTransport? transport = null, ILoggerFactory? loggers = null)
    {
        _options = options;
        _loggers = loggers;
        _codecs = SdpText.ParseCodecs(options.Codecs);
        _model = model;
        Time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _bindings = new BindingTable(bindingStore, model, Time) { UnreachableAfter = Math.Max(1, options.KeepAliveFailures) };
        _secrets = new DeviceSecrets(secretStore, options.Realm);
        _digest = new DigestServer(options.Realm, Time)
        {
            Algorithms = options.DigestAlgorithms,
            NonceLifetime = options.NonceLifetime,
            OfferAuthInt = options.DigestAuthInt,
        };
        _throttle = new AuthThrottle(Time)
        {
            FreeFailures = options.AuthFreeFailures,
            MaxFailuresPerUserPerMinute = options.AuthMaxFailuresPerUserPerMinute,
            RequestsPerSecond = options.AuthRequestsPerSecond,
            RequestBurst = options.AuthRequestBurst,
        };
        var listen = IPAddress.Parse(options.ListenAddress);
        IPAddress? advertised = null;
        if (options.AdvertisedAddress.Length > 0 && !IPAddress.TryParse(options.AdvertisedAddress.Trim('[', ']'), out advertised))
            throw new ArgumentException($"Sip:AdvertisedAddress '{options.AdvertisedAddress}' is no IP address", nameof(options));
        transport ??= new SipTransport(new SipTransportOptions
        {
            Address = listen,
            Port = options.Port,
            AdvertisedAddress = advertised,
            LocalNetworks = LocalAddressSelector.ParseNetworks(options.LocalNetworks),
            MaxTcpConnections = options.MaxTcpConnections,
            MaxTcpConnectionsPerSource = options.MaxTcpConnectionsPerSource,
            TlsPort = EffectiveTlsPort(options),
            TlsCertificate = EffectiveTlsPort(options) == -1 ? null : TlsCertificateFor(options, listen, advertised, _log),
        }, _log);
        _layer = new SipTransactionLayer(transport, new SipTimers { T1 = TimeSpan.FromMilliseconds(options.T1Milliseconds) }, Time, _log);
        _registrar = new Registrar.Registrar(this, _bindings, options, _log);
        if (options.RtpAddress.Length > 0)
        {
            if (!IPAddress.TryParse(options.RtpAddress, out var rtp))
                throw new ArgumentException($"Sip:RtpAddress '{options.RtpAddress}' is no IP address", nameof(options));
            if (!rtp.Equals(IPAddress.Any) && !rtp.Equals(IPAddress.IPv6Any)) _rtpAddress = rtp;
        }
        CreatedPasswords = _secrets.EnsureAll(model.Devices, options.Passwords);
        _keepAlive = new KeepAlive(_layer, _bindings, DomainFor, Time, _log);
    }

    /// <summary>Passwords generated at this start (device → password): shown once, then only stored.</summary>
    public IReadOnlyDictionary<string, string> CreatedPasswords { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>The bound SIP endpoint (UDP; TCP has the same port).</summary>
    public IPEndPoint LocalEndPoint => _layer.Transport.LocalEndPoint;

    /// <summary>The call model.</summary>
    public CallModel Model => _model;

    /// <summary>Live calls through the B2BUA.</summary>
    public int ActiveCalls => _dialogs.Values.Select(d => d.Call).Distinct().Count();

    /// <inheritdoc />
    public string Kind => "sip";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Devices => _model.Devices;

    /// <summary>Opens the SIP port.</summary>
    public void Start()
    {
        _layer.Start(this);
        _expiry = Time.CreateTimer(_ => _bindings.Expire(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        _keepAlive.Start(_options.KeepAliveInterval);
        StartTrunks();
        SwitchLog.Listening(_log, LocalEndPoint, (object?)_layer.Transport.TlsLocalEndPoint ?? "off", _options.Realm, string.Join(",", _model.Devices.Order()));
    }

    /// <summary>The password of a device (for tests and the first-start hint).</summary>
    public string? PasswordOf(string device) => _secrets.Get(device);

    /// <summary>The host part this switch writes towards a peer (IPv6 in brackets): never a wildcard, and loopback only to loopback.</summary>
    private string HostFor(SipEndPoint peer) => _layer.SentBy(peer.Address.Address);

    /// <summary>host:port of this switch as the peer reaches it (From/To domains, Call-Info).</summary>
    private string DomainFor(SipEndPoint peer) => $"{HostFor(peer)}:{LocalEndPoint.Port}";

    private string ContactFor(string user, SipEndPoint peer) => $"<sip:{user}@{ContactHostPort(peer)}{TransportParameter(peer.Protocol)}>";

    // ---- transaction user -------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async Task OnRequestAsync(ServerTransaction txn)
    {
        var req = txn.Request;
        try
        {
            if (req.To.Tag is not null)
            {
                await OnInDialogRequestAsync(txn).ConfigureAwait(false);
                return;
            }
            switch (req.Method)
            {
                case "REGISTER":
                    await _registrar.HandleAsync(txn).ConfigureAwait(false);
                    break;
                case "OPTIONS":
                    var ok = SipResponse.For(req, 200, toTag: SipTransactionLayer.NewToken());
                    ok.Add(SipHeaderNames.Allow, AllowedMethods);
                    ok.Add("Accept", "application/sdp");
                    await txn.RespondAsync(ok).ConfigureAwait(false);
                    break;
                case "INVITE":
                    await OnNewInviteAsync(txn).ConfigureAwait(false);
                    break;
                case "BYE":
                case "INFO":
                case "UPDATE":
                case "PRACK":
                    await txn.RespondAsync(481).ConfigureAwait(false);
                    break;
                default:
                    var no = SipResponse.For(req, 405, toTag: SipTransactionLayer.NewToken());
                    no.Add(SipHeaderNames.Allow, AllowedMethods);
                    await txn.RespondAsync(no).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception ex)
        {
            SwitchLog.RequestFailed(_log, ex, req.Method, req.CallId, txn.Source);
            await txn.RespondAsync(500).ConfigureAwait(false);
        }
    }

    private const string AllowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY";

    /// <inheritdoc />
    public Task OnAckAsync(SipRequest ack, SipEndPoint source)
    {
        // The ACK for our 2xx on leg A (or B after a relayed re-INVITE): the ACK towards the other phone was sent
        // when its 2xx arrived, so nothing is relayed.
        if (_dialogs.TryGetValue(SipDialog.KeyOf(ack.CallId, ack.To.Tag), out var d) && d.Leg.State == LegState.Connecting) d.Leg.State = LegState.Confirmed;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task OnCancelledAsync(ServerTransaction invite)
    {
        if (!_pending.TryGetValue(invite, out var call))
        {
            await invite.RespondAsync(487).ConfigureAwait(false);
            return;
        }
        SwitchLog.CallerCancelled(_log, call.Caller.Call.Id, call.Caller.Party);
        await call.RunAsync(() => EndCallAsync(call, "cancelled", CallOutcome.Abandoned, finalToA: 487)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task OnStrayResponseAsync(SipResponse response, SipEndPoint source)
    {
        // A retransmitted 2xx from the callee after its transaction ended: our ACK was lost; send it again.
        if (_dialogs.TryGetValue(SipDialog.KeyOf(response.CallId, response.From.Tag), out var d) && d.Leg == d.Call.B)
            await _layer.SendAckAsync(d.Leg.Dialog.NewRequest("ACK", ContactFor(d.Call.Caller.Party, d.Leg.Dialog.Peer), response.CSeq.Number), d.Leg.Dialog.Peer).ConfigureAwait(false);
    }

    // ---- authentication -----------------------------------------------------------------------------------------

    /// <summary>
    /// Digest-authenticates a request. Returns the device, or null with the response to send: 503 with Retry-After for
    /// an address over its request rate, 403 while the user is blocked from this address (or capped across
    /// addresses), a challenge (stale=true for a right answer with a used, old or foreign nonce), 400 for credentials
    /// of another Request-URI, or 403 for wrong credentials. Each refusal of an attack is one security log line.
    /// </summary>
    internal string? Authenticate(ServerTransaction txn, bool proxy, out SipResponse? refusal)
    {
        var req = txn.Request;
        refusal = null;
        var address = txn.Source.Address.Address;
        if (!_throttle.TryAdmit(address, out var wait, out var burstStarted))
        {
            if (burstStarted) SecurityLog.RateLimited(_log, txn.Source);
            refusal = SipResponse.For(req, 503, "Service Unavailable (too many requests)", SipTransactionLayer.NewToken());
            refusal.Add("Retry-After", Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return null;
        }
        var claimed = _digest.ClaimedUser(req);
        var account = claimed is not null && _model.IsDevice(claimed) ? claimed : AuthThrottle.UnknownUser;
        if (claimed is not null && _throttle.IsBlocked(account, address, out var left, out _))
        {
            refusal = SipResponse.For(req, 403, $"Forbidden (too many failed attempts; retry in {Math.Ceiling(left.TotalSeconds)} s)", SipTransactionLayer.NewToken());
            return null;
        }
        var result = _digest.CheckHa1(req, txn.Source, _secrets.Ha1Of);
        switch (result.Verdict)
        {
            case DigestVerdict.Valid when result.User is { } user && _model.IsDevice(user):
                _throttle.Success(user, address);
                if (req.Method == "REGISTER") _secrets.Registered(user);
                SecurityLog.SuccessfulAuth(_log, txn.Source, user);
                return user;
            case DigestVerdict.Missing:
            case DigestVerdict.Stale:
                if (result.Reason is DigestRejection.NonceCountReused || (result.Reason is DigestRejection.NonceSpent && req.Method != "REGISTER"))
                    SecurityLog.ReplayRejected(_log, txn.Source, result.User, $"{req.Method}: {result.Reason}");
                refusal = SipResponse.For(req, proxy ? 407 : 401, toTag: SipTransactionLayer.NewToken());
                _digest.Challenge(refusal, txn.Source, stale: result.Verdict == DigestVerdict.Stale);
                return null;
            case DigestVerdict.BadRequest:
                SecurityLog.ReplayRejected(_log, txn.Source, result.User, $"{req.Method}: {result.Reason}");
                refusal = SipResponse.For(req, 400, "Bad Request (digest uri is not the Request-URI)", SipTransactionLayer.NewToken());
                return null;
            default:
                var block = _throttle.Failure(account, address);
                if (account == AuthThrottle.UnknownUser) SecurityLog.InvalidAccount(_log, txn.Source, result.User, $"{req.Method}: {result.Reason}");
                else SecurityLog.InvalidPassword(_log, txn.Source, result.User, $"{req.Method}: {result.Reason}");
                if (block > TimeSpan.Zero) SecurityLog.Blocked(_log, txn.Source, result.User, block);
                refusal = SipResponse.For(req, 403, "Forbidden (wrong credentials)", SipTransactionLayer.NewToken());
                return null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _expiry?.Dispose();
        _keepAlive.Dispose();
        foreach (var call in _dialogs.Values.Select(d => d.Call).Distinct().ToList())
            await call.RunAsync(() => EndCallAsync(call, "switch stopping", CallOutcome.Interrupted, finalToA: 503)).ConfigureAwait(false);
        await StopTrunksAsync().ConfigureAwait(false);
        await _layer.DisposeAsync().ConfigureAwait(false);
        if (_media is not null) await _media.DisposeAsync().ConfigureAwait(false);
    }
}
