using System.Globalization;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Telephony;

namespace Switchboard.Switch.Registrar;

/// <summary>
/// The registrar (RFC 3261 §10.3): authenticates REGISTER with digest, adds, refreshes and removes bindings
/// (<c>Expires: 0</c>, <c>Contact: *</c>), enforces the expiry bounds (423 with Min-Expires) and answers with the
/// current bindings.
/// </summary>
internal sealed class Registrar(SipSwitch sw, BindingTable bindings, SwitchOptions options, ILogger log)
{
    public async Task HandleAsync(ServerTransaction txn)
    {
        var req = txn.Request;
        var device = sw.Authenticate(txn, proxy: false, out var refusal);
        if (device is null)
        {
            if (refusal is not null) await txn.RespondAsync(refusal).ConfigureAwait(false);
            return;
        }
        var toUser = req.To.SipUri?.User;
        if (toUser != device)
        {
            SwitchLog.RegisterForOtherRefused(log, toUser, device, txn.Source);
            await txn.RespondAsync(403, $"Forbidden ({device} may register only itself)").ConfigureAwait(false);
            return;
        }
        sw.LearnAnswerMethod(device, req["Allow-Events"]);
        int defaultExpires = int.TryParse(req[SipHeaderNames.Expires], NumberStyles.None, CultureInfo.InvariantCulture, out var e) ? e : options.MaxExpires;
        var contacts = req.All(SipHeaderNames.Contact).Select(NameAddress.Parse).ToList();
        if (contacts.Any(c => c.IsWildcard))
        {
            if (contacts.Count != 1 || defaultExpires != 0)
            {
                await txn.RespondAsync(400, "Bad Request (Contact: * needs Expires: 0 and no other contact)").ConfigureAwait(false);
                return;
            }
            bindings.Unregister(device, null);
            SwitchLog.UnregisteredAll(log, device);
        }
        else
        {
            var registered = new List<string>(contacts.Count);
            foreach (var c in contacts)
            {
                int expires = c.Parameters.TryGetValue("expires", out var ce) && int.TryParse(ce, NumberStyles.None, CultureInfo.InvariantCulture, out var cev) ? cev : defaultExpires;
                if (expires == 0)
                {
                    bindings.Unregister(device, c.Uri);
                    SwitchLog.Unregistered(log, device, c.Uri);
                    continue;
                }
                if (expires < options.MinExpires)
                {
                    var tooBrief = SipResponse.For(req, 423, toTag: SipTransactionLayer.NewToken());
                    tooBrief.Add("Min-Expires", options.MinExpires.ToString(CultureInfo.InvariantCulture));
                    await txn.RespondAsync(tooBrief).ConfigureAwait(false);
                    return;
                }
                expires = Math.Min(expires, options.MaxExpires);
                var flow = PhoneFlow.Of(c.Uri, txn.Source);
                bindings.Register(new PhoneBinding(device, c.Uri, sw.Time.GetUtcNow().AddSeconds(expires),
                    txn.Source.Protocol.ToString().ToLowerInvariant(), PhoneFlow.FormatSource(txn.Source), req.CallId, req[SipHeaderNames.UserAgent]));
                registered.Add(c.Uri);
                if (flow.Reason == FlowReason.ContactUnroutable)
                    NetLog.UnroutableContact(log, device, c.Uri, txn.Source);
                NetLog.Registered(log, device, c.Uri, txn.Source, txn.Source.Protocol, flow.EndPoint, flow.NatDetected ? "yes" : "no", flow.Reason, expires);
            }
            // The same UA (same Call-ID, RFC 3261 §10.2.4) registering another Contact has moved: its old flows go.
            foreach (var moved in bindings.DropOthersOfCall(device, req.CallId, registered))
                NetLog.BindingReplaced(log, device, moved.Contact, moved.Source, txn.Source);
        }
        var ok = SipResponse.For(req, 200, toTag: SipTransactionLayer.NewToken());
        var now = sw.Time.GetUtcNow();
        foreach (var b in bindings.Lookup(device))
            ok.Add(SipHeaderNames.Contact, $"<{b.Contact}>;expires={Math.Max(0, (int)(b.Expires - now).TotalSeconds).ToString(CultureInfo.InvariantCulture)}");
        await txn.RespondAsync(ok).ConfigureAwait(false);
    }

    /// <summary>The endpoint a binding's phone is reached at (see <see cref="PhoneFlow"/>); null for an unreadable stored source.</summary>
    public static SipEndPoint? EndPointOf(PhoneBinding b) => PhoneFlow.Of(b)?.EndPoint;
}
