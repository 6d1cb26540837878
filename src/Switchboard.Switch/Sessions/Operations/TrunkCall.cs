using Microsoft.Extensions.Logging;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// SIP trunks: outside calls leave through the trunk their number routes to (after the toll-fraud policy allowed
/// them), with the caller ID the trunk presents and digest answers to its 401/407 challenges; calls from a trunk,
/// recognised by source address, ring the extension of the DID they were made to.
/// </summary>
public sealed partial class SipSwitch
{
    private TrunkRouter? _router;
    private readonly List<TrunkRegistration> _trunkRegistrations = [];
    private OutsideCallPolicy? _outsidePolicy;

    /// <summary>
    /// The toll-fraud rules for every call that leaves through a trunk; by default those of a fresh
    /// <see cref="OutsideCallOptions"/> (international and premium-rate numbers refused).
    /// </summary>
    public OutsideCallPolicy OutsidePolicy
    {
        get => LazyInitializer.EnsureInitialized(ref _outsidePolicy, () => new OutsideCallPolicy(new OutsideCallOptions(), Time));
        init => _outsidePolicy = value;
    }

    /// <summary>The trunks and their routing.</summary>
    public TrunkRouter Trunks => LazyInitializer.EnsureInitialized(ref _router, () => new TrunkRouter(_options.Trunks, _options.OutsideLinePrefix));

    /// <summary>The registrations of trunks that register (in configuration order).</summary>
    public IReadOnlyList<TrunkRegistration> TrunkRegistrations => _trunkRegistrations;

    private void StartTrunks()
    {
        foreach (var trunk in Trunks.Trunks)
        {
            SwitchLog.TrunkConfigured(_log, trunk.Name, trunk.Upstream, string.Join(",", trunk.Options.Prefixes), trunk.Options.NumberFormat.ToString(),
                string.Join(",", trunk.Options.Dids.Keys));
            if (trunk.Upstream.Protocol == Sip.Transport.SipProtocol.Tls && _layer.Transport is Sip.Transport.SipTransport sockets) sockets.SetTlsPeer(trunk.Upstream.Address, TlsPeerOf(trunk.Options));
            if (!trunk.Options.Register) continue;
            var contact = $"<sip:{trunk.Options.Username}@{ContactHostPort(trunk.Upstream)}{TransportParameter(trunk.Upstream.Protocol)}>";
            var upstream = trunk.Upstream;
            var registration = new TrunkRegistration(trunk, contact, req => _layer.Send(req, upstream).FinalResponse, Time, _log);
            _trunkRegistrations.Add(registration);
            registration.Start();
        }
    }

    private async Task StopTrunksAsync()
    {
        foreach (var r in _trunkRegistrations) await r.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The way out for an outside number, or null with the SIP code and text of the refusal: 404 when no trunk takes
    /// it, 403 naming the policy rule that refused it. Every attempt counts against the device's rate limit.
    /// </summary>
    private TrunkRoute? OutsideRoute(string device, string number, out int code, out string refusal)
    {
        var route = Trunks.Route(number, out var reason);
        if (route is not { } r)
        {
            // A number no trunk takes is still an attempt: probing must use up the rate limit too.
            (code, refusal) = OutsidePolicy.CountAttempt(device) is { } limited ? (403, limited) : (404, reason);
            return null;
        }
        if (OutsidePolicy.Check(device, r.E164) is { } rule)
        {
            SwitchLog.OutsideCallRefused(_log, device, number, rule);
            (code, refusal) = (403, rule);
            return null;
        }
        (code, refusal) = (200, "");
        return r;
    }

    /// <summary>For MakeCall and Forward: null when the call may go out, else the reply (404 no trunk, 403 with the rule).</summary>
    private CallControlResult? RefuseOutside(string device, string number, string what, bool count = true)
    {
        var route = Trunks.Route(number, out var reason);
        if (route is not { } r)
        {
            if (count && OutsidePolicy.CountAttempt(device) is { } limited) return CallControlResult.Fail(ReplyCode.Forbidden, $"{what}: refused: {limited}");
            return CallControlResult.Fail(ReplyCode.NotFound, $"{what}: {reason}");
        }
        if (OutsidePolicy.Check(device, r.E164, count) is { } rule) return CallControlResult.Fail(ReplyCode.Forbidden, $"{what}: refused: {rule}");
        return null;
    }

    /// <summary>The device whose forwarding sends a call out (the last hop), or the caller when there was none.</summary>
    private static string ForwardingDevice(Route route, string caller) => route.ForwardedFrom.Count > 0 ? route.ForwardedFrom[^1] : caller;

    /// <summary>A phone dialled an outside number: policy, then a leg to the trunk.</summary>
    private async Task OnOutsideInviteAsync(ServerTransaction txn, string caller, string dialled)
    {
        var req = txn.Request;
        if (OutsideRoute(caller, dialled, out var code, out var refusal) is not { } route)
        {
            if (code == 404) await RefuseNotFoundAsync(txn, caller, dialled, refusal).ConfigureAwait(false);
            else await txn.RespondAsync(code, $"Forbidden ({refusal})").ConfigureAwait(false);
            return;
        }
        var legA = new Leg(SipDialog.ForIncoming(req, SipTransactionLayer.NewToken(), txn.Source), caller, LegState.Incoming) { Sdp = req.Body };
        var callerConn = _model.StartCall(caller, route.E164);
        var call = new CallSession(legA, txn, callerConn);
        Register(call, legA);
        _pending[txn] = call;
        SwitchLog.TrunkCallOut(_log, callerConn.Call.Id, caller, route.E164, route.Trunk.Name, route.Dialled);
        await call.RunAsync(() =>
        {
            if (call.State != SessionState.Calling) return Task.CompletedTask;
            var offer = OfferForCallee(call, route.Trunk.Upstream, calleeBehindNat: false, calleeIsTrunk: true, out var endpointB);
            StartTrunkLeg(call, route, offer, endpointB is null ? req[SipHeaderNames.ContentType] : "application/sdp", caller, cause: null, endpointB);
            StartRingTimer(call);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
    }

    /// <summary>A call to an extension forwarded to an outside number: policy for the forwarding device, then the trunk.</summary>
    private async Task ForwardOutAsync(CallSession call, Route route, byte[] sdp, string? contentType, string? cause)
    {
        var device = ForwardingDevice(route, call.Caller.Party);
        if (OutsideRoute(device, route.Target, out var code, out var refusal) is not { } tr)
        {
            _model.AddParty(call.Caller.Call, route.Target, ConnectionState.Failed, CallEventType.Failed, refusal);
            await EndCallAsync(call, refusal, CallOutcome.Failed, finalToA: code,
                reason: code == 403 ? $"Forbidden ({refusal})" : $"Not Found ({refusal})").ConfigureAwait(false);
            return;
        }
        SwitchLog.TrunkCallOut(_log, call.Caller.Call.Id, call.Caller.Party, tr.E164, tr.Trunk.Name, cause ?? tr.Dialled);
        if (call.State != SessionState.Calling) return;
        StartTrunkLeg(call, tr, sdp, contentType, device, cause);
        StartRingTimer(call);
    }

    /// <summary>MakeCall to an outside number: the caller's phone answered; now the trunk (policy was checked by MakeCall).</summary>
    private async Task CallOutAfterAnswerAsync(CallSession call, Route route, byte[] sdp)
    {
        var device = ForwardingDevice(route, call.A.Device);
        if (Trunks.Route(route.Target, out var reason) is not { } tr)
        {
            call.Callee = _model.AddParty(call.Caller.Call, route.Target, ConnectionState.Failed, CallEventType.Failed, reason);
            await EndCallAsync(call, reason, CallOutcome.Failed).ConfigureAwait(false);
            return;
        }
        var cause = route.ForwardedFrom.Count > 0 ? "forwarded from " + string.Join(",", route.ForwardedFrom) : null;
        if (call.State != SessionState.Calling) return;
        StartTrunkLeg(call, tr, sdp, "application/sdp", device, cause);
    }

    /// <summary>
    /// Leg B to a trunk: Request-URI and To in the trunk's number format, From and P-Asserted-Identity with the caller
    /// ID the trunk presents for <paramref name="presenting"/>. In the session's turn.
    /// </summary>
    private void StartTrunkLeg(CallSession call, TrunkRoute route, byte[] sdp, string? contentType, string presenting, string? cause,
        Media.RtpEndpoint? endpoint = null)
    {
        var t = route.Trunk;
        var callerId = TrunkRouter.CallerIdOf(t, presenting);
        var fromUser = t.Options.FromUser.Length > 0 ? t.Options.FromUser : callerId;
        var target = t.UriFor(route.Dialled);
        var legB = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
            $"sip:{fromUser}@{t.Domain}", target, target, t.Upstream), route.E164, LegState.Calling)
        { Endpoint = endpoint };
        call.B = legB;
        Register(call, legB);
        SendTrunkInvite(call, legB, route, sdp, contentType, callerId, cause, challenges: []);
    }

    private void SendTrunkInvite(CallSession call, Leg legB, TrunkRoute route, byte[] sdp, string? contentType, string callerId, string? cause,
        IReadOnlyList<SipResponse> challenges)
    {
        var t = route.Trunk;
        var invite = legB.Dialog.NewRequest("INVITE", ContactFor(callerId, t.Upstream));
        if (t.Options.PAssertedIdentity) invite.Add("P-Asserted-Identity", $"<sip:{callerId}@{t.Domain}>");
        if (sdp.Length > 0)
        {
            invite.Add(SipHeaderNames.ContentType, contentType ?? "application/sdp");
            invite.Body = sdp;
        }
        foreach (var challenge in challenges)
        {
            if (!DigestClient.Answer(challenge, invite, t.AuthUser, t.Options.Password))
                SwitchLog.TrunkChallengeUnusable(_log, call.Caller.Call.Id, t.Name);
        }
        var peer = t.Upstream;
        var txn = _layer.Send(invite, peer, tx =>
        {
            call.InviteB = tx;
            tx.Provisional += r => _ = call.RunAsync(() => OnCalleeProvisionalAsync(call, legB, r, cause));
            tx.AdditionalSuccess += r => _ = OnStrayResponseAsync(r, peer);
        });
        _ = txn.FinalResponse.ContinueWith(
            tk => call.RunAsync(() => OnTrunkFinalAsync(call, legB, route, sdp, contentType, callerId, cause, tk.Result, challenges)), TaskScheduler.Default).Unwrap();
    }

    /// <summary>
    /// A final response from the trunk: a 401/407 is answered with the trunk's credentials in a new INVITE with the
    /// next CSeq, keeping the answers to earlier challenges (a proxy's 407 and then its UAS's 401 both need theirs).
    /// The same challenge again (same code and realm, not stale) means wrong credentials, which the caller sees as 403:
    /// a challenge passed on would make the phone ask its user for a password.
    /// </summary>
    private async Task OnTrunkFinalAsync(CallSession call, Leg legB, TrunkRoute route, byte[] sdp, string? contentType, string callerId, string? cause,
        SipResponse r, IReadOnlyList<SipResponse> challenges)
    {
        if (r.StatusCode is 401 or 407)
        {
            var (realm, stale) = ChallengeOf(r);
            bool repeated = challenges.Any(c => c.StatusCode == r.StatusCode && ChallengeOf(c).Realm == realm);
            if ((!repeated || stale) && challenges.Count < 4)
            {
                var next = challenges.Where(c => !(c.StatusCode == r.StatusCode && ChallengeOf(c).Realm == realm)).Append(r).ToList();
                if (call.State == SessionState.Calling && call.B == legB)
                {
                    SendTrunkInvite(call, legB, route, sdp, contentType, callerId, cause, next);
                    return;
                }
                // A leg replaced or a call ended meanwhile: the usual handling forgets the leg.
                await OnCalleeFinalAsync(call, legB, r, cause).ConfigureAwait(false);
                return;
            }
            SwitchLog.TrunkRefusedCredentials(_log, call.Caller.Call.Id, route.Trunk.Name, route.Trunk.AuthUser, r.StatusCode);
            r = new SipResponse(403, $"Forbidden (trunk {route.Trunk.Name} refused our credentials)");
        }
        await OnCalleeFinalAsync(call, legB, r, cause).ConfigureAwait(false);
    }

    /// <summary>An INVITE from a trunk's address: trusted by source (no digest), routed by DID to an extension.</summary>
    private async Task OnTrunkInviteAsync(ServerTransaction txn, Trunk trunk)
    {
        var req = txn.Request;
        if (await RefuseUnkeyedOfferAsync(txn, txn.Source, trunk.Name, reinvite: false).ConfigureAwait(false)) return;
        var ruriUser = SipUri.Parse(req.Uri)?.User ?? "";
        var toUser = req.To.SipUri?.User ?? "";
        var extension = TrunkRouter.Did(trunk, ruriUser) ?? TrunkRouter.Did(trunk, toUser);
        var members = extension?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (members.Length > 1 && members.All(_model.IsDevice))
        {
            await RingGroupAsync(txn, trunk, members).ConfigureAwait(false);
            return;
        }
        if (extension is null || !_model.IsDevice(extension))
        {
            SwitchLog.TrunkNoSuchDid(_log, trunk.Name, ruriUser, txn.Source);
            await txn.RespondAsync(404, "Not Found (no such number)").ConfigureAwait(false);
            return;
        }
        var callerNumber = TrunkCaller(req, trunk);
        var legA = new Leg(SipDialog.ForIncoming(req, SipTransactionLayer.NewToken(), txn.Source), callerNumber, LegState.Incoming) { Sdp = req.Body };
        var callerConn = _model.StartCall(callerNumber, extension);
        var call = new CallSession(legA, txn, callerConn);
        Register(call, legA);
        _pending[txn] = call;

        await call.RunAsync(() => OfferToExtensionAsync(call, req, extension, TrunkRouter.DisplayName(req.From.DisplayName, callerNumber),
            $"{callerNumber} via trunk {trunk.Name}")).ConfigureAwait(false);
    }

    private static (string? Realm, bool Stale) ChallengeOf(SipResponse r)
    {
        var h = r.All(r.StatusCode == 407 ? SipHeaderNames.ProxyAuthenticate : SipHeaderNames.WwwAuthenticate).Select(DigestHeader.Parse).FirstOrDefault(x => x is not null);
        return (h?["realm"], h?["stale"]?.Equals("true", StringComparison.OrdinalIgnoreCase) == true);
    }

    /// <summary>Redirect of a ringing call to an outside number (directly or by the target's forwarding): policy, then the trunk.</summary>
    private CallControlResult RetargetOut(string what, CallSession call, Connection ringing, Route route, string device)
    {
        var presenting = ForwardingDevice(route, device);
        if (RefuseOutside(presenting, route.Target, what) is { } refused) return refused;
        var tr = Trunks.Route(route.Target, out _)!.Value;
        if (call.Callee != ringing) return CallControlResult.Fail(ReplyCode.WrongState, $"{what}: the ringing call was answered or moved meanwhile");
        var cause = "deflected by " + device;
        var replaced = ReplaceRingingLeg(what, call, c =>
        {
            c.Callee = _model.Divert(ringing, tr.E164, ConnectionState.Alerting, cause);
            var sdp = CalleeOffer(c, tr.Trunk.Upstream, out var endpoint);
            StartTrunkLeg(c, tr, sdp, "application/sdp", presenting, cause, endpoint);
        });
        if (replaced is { } no) return no;
        return CallControlResult.Ok($"{what}: call {ringing.Call.Id} now goes out to {tr.E164} via trunk {tr.Trunk.Name}");
    }

    /// <summary>The caller of an INVITE from a trunk, as +E.164 (P-Asserted-Identity first, else From).</summary>
    private static string TrunkCaller(SipRequest req, Trunk trunk)
    {
        var callerUri = req["P-Asserted-Identity"] is { } pai ? NameAddress.Parse(pai).SipUri : null;
        return TrunkRouter.CallerNumber(trunk, callerUri?.User ?? req.From.SipUri?.User);
    }

    /// <summary>
    /// A DID mapped to a group ("100,101"): every member's phone rings at once (each member's do-not-disturb and
    /// forwarding to another extension apply); the first to answer gets the call and the others are cancelled; when
    /// all refuse, the caller gets the last refusal.
    /// </summary>
    private async Task RingGroupAsync(ServerTransaction txn, Trunk trunk, string[] members)
    {
        var req = txn.Request;
        var callerNumber = TrunkCaller(req, trunk);
        var legA = new Leg(SipDialog.ForIncoming(req, SipTransactionLayer.NewToken(), txn.Source), callerNumber, LegState.Incoming) { Sdp = req.Body };
        var callerConn = _model.StartCall(callerNumber, string.Join(",", members));
        var call = new CallSession(legA, txn, callerConn);
        Register(call, legA);
        _pending[txn] = call;
        await call.RunAsync(() => RingGroupMembersAsync(txn, trunk, members, call)).ConfigureAwait(false);
    }

    /// <summary>The group's phones are rung in the new session's turn; their responses come back into it.</summary>
    private async Task RingGroupMembersAsync(ServerTransaction txn, Trunk trunk, string[] members, CallSession call)
    {
        var req = txn.Request;
        var legA = call.A;
        var callerNumber = call.Caller.Party;
        var callerConn = call.Caller;
        var targets = new List<(string Device, PhoneBinding Binding, Sip.Transport.SipEndPoint Peer)>();
        foreach (var target in members.Select(m => _model.Resolve(m)).Where(r => !r.DoNotDisturb && _model.IsDevice(r.Target)).Select(r => r.Target).Distinct())
        {
            var binding = _bindings.Lookup(target).FirstOrDefault();
            if (binding is not null && Registrar.Registrar.EndPointOf(binding) is { } peer) targets.Add((target, binding, peer));
        }
        SwitchLog.GroupCall(_log, callerConn.Call.Id, callerNumber, trunk.Name, string.Join(",", members), string.Join(",", targets.Select(t => t.Device)));
        if (targets.Count == 0)
        {
            await EndCallAsync(call, "no group member reachable", CallOutcome.Failed, finalToA: 480,
                reason: "Temporarily Unavailable (no group member reachable)").ConfigureAwait(false);
            return;
        }
        int left = targets.Count;
        Leg? winner = null;
        var alerting = new Dictionary<Leg, Connection>();
        {
            foreach (var (device, binding, peer) in targets)
            {
                var leg = new Leg(SipDialog.ForOutgoing(SipTransactionLayer.NewToken(12) + "@switchboard", SipTransactionLayer.NewToken(),
                    $"sip:{callerNumber}@{DomainFor(peer)}", $"sip:{device}@{DomainFor(peer)}", binding.Contact, peer, TrunkRouter.DisplayName(req.From.DisplayName, callerNumber)),
                    device, LegState.Calling);
                Register(call, leg);
                var invite = leg.Dialog.NewRequest("INVITE", ContactFor(callerNumber, peer));
                if (req.Body.Length > 0)
                {
                    invite.Add(SipHeaderNames.ContentType, req[SipHeaderNames.ContentType] ?? "application/sdp");
                    invite.Body = req.Body;
                }
                var t = _layer.Send(invite, peer, tx =>
                {
                    call.GroupInvites.Add(tx);
                    tx.Provisional += r => _ = call.RunAsync(() => OnGroupProvisionalAsync(r, leg));
                    tx.AdditionalSuccess += r => _ = OnStrayResponseAsync(r, peer);
                });
                _ = t.FinalResponse.ContinueWith(tk => call.RunAsync(() => OnGroupFinalAsync(tk.Result, leg, t)), TaskScheduler.Default).Unwrap();
            }
        }
        StartRingTimer(call);

        async Task OnGroupProvisionalAsync(SipResponse r, Leg leg)
        {
            if (r.StatusCode == 100) return;
            if (call.State != SessionState.Calling || winner is not null || alerting.ContainsKey(leg)) return;
            leg.Dialog.OnResponse(r);
            if (r.To.Tag is not null) leg.State = LegState.Early;
            bool first = alerting.Count == 0;
            alerting[leg] = _model.AddParty(call.Caller.Call, leg.Device, ConnectionState.Alerting, CallEventType.Delivered, "group " + string.Join(",", members));
            // A ringing member's connection leads to the group call too (Drop rejects it, as before any answer).
            call.Adopt(alerting[leg]);
            if (first) await txn.RespondAsync(SipResponse.For(req, 180, toTag: legA.Dialog.LocalTag)).ConfigureAwait(false);
        }

        async Task OnGroupFinalAsync(SipResponse r, Leg leg, ClientTransaction t)
        {
            bool decide;
            List<(Leg Leg, Connection Conn)> losers = [];
            {
                bool success = r.StatusCode is >= 200 and < 300;
                left--;
                if (success && winner is null && call.State == SessionState.Calling)
                {
                    winner = leg;
                    losers = [.. alerting.Where(kv => kv.Key != leg).Select(kv => (kv.Key, kv.Value))];
                    decide = true;
                }
                else
                {
                    // The last refusal is passed on as the answer of the whole group; earlier ones just leave the group.
                    decide = !success && winner is null && left == 0 && call.State == SessionState.Calling;
                }
                if (decide)
                {
                    call.B = leg;
                    call.InviteB = t;
                    // The answering member joins the call before the others leave it, so the call never drops to one party.
                    call.Callee = alerting.GetValueOrDefault(leg)
                        ?? _model.AddParty(call.Caller.Call, leg.Device, ConnectionState.Alerting, CallEventType.Delivered, "group " + string.Join(",", members));
                }
            }
            if (decide)
            {
                foreach (var (l, conn) in losers) _model.Clear(conn, "answered by " + leg.Device);
                foreach (var g in call.GroupInvites) if (g != t && !g.FinalResponse.IsCompleted) _ = g.CancelAsync();
                await OnCalleeFinalAsync(call, leg, r, "group " + string.Join(",", members)).ConfigureAwait(false);
                return;
            }
            if (r.StatusCode is >= 200 and < 300)
            {
                // Answered after another member did (or after the call ended): release it.
                leg.Dialog.OnResponse(r);
                await _layer.SendAckAsync(leg.Dialog.NewRequest("ACK", ContactFor(callerNumber, leg.Dialog.Peer), r.CSeq.Number), leg.Dialog.Peer).ConfigureAwait(false);
                _ = _layer.Send(leg.Dialog.NewRequest("BYE", ContactFor(callerNumber, leg.Dialog.Peer)), leg.Dialog.Peer);
            }
            else
            {
                leg.State = LegState.Disconnected;
                var mine = winner is null ? alerting.GetValueOrDefault(leg) : null;
                if (mine is not null) _model.Clear(mine, r.StatusCode + " " + r.Reason);
            }
            _dialogs.TryRemove(leg.Dialog.Key, out _);
        }
    }
}
