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
            log.LogWarning("REGISTER for {To} by authenticated user {User} from {Source} refused", toUser, device, txn.Source);
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
            log.LogInformation("{Device} unregistered all contacts", device);
        }
        else
        {
            foreach (var c in contacts)
            {
                int expires = c.Parameters.TryGetValue("expires", out var ce) && int.TryParse(ce, NumberStyles.None, CultureInfo.InvariantCulture, out var cev) ? cev : defaultExpires;
                if (expires == 0)
                {
                    bindings.Unregister(device, c.Uri);
                    log.LogInformation("{Device} unregistered {Contact}", device, c.Uri);
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
                var source = $"{txn.Source.Protocol.ToString().ToLowerInvariant()}:{txn.Source.Address}";
                bindings.Register(new PhoneBinding(device, c.Uri, sw.Time.GetUtcNow().AddSeconds(expires),
                    txn.Source.Protocol.ToString().ToLowerInvariant(), source, req.CallId, req[SipHeaderNames.UserAgent]));
                log.LogInformation("{Device} registered {Contact} from {Source} for {Expires} s", device, c.Uri, txn.Source, expires);
            }
        }
        var ok = SipResponse.For(req, 200, toTag: SipTransactionLayer.NewToken());
        var now = sw.Time.GetUtcNow();
        foreach (var b in bindings.Lookup(device))
            ok.Add(SipHeaderNames.Contact, $"<{b.Contact}>;expires={Math.Max(0, (int)(b.Expires - now).TotalSeconds).ToString(CultureInfo.InvariantCulture)}");
        await txn.RespondAsync(ok).ConfigureAwait(false);
    }

    /// <summary>
    /// The endpoint a binding's phone is reached at. A Contact with an IP literal on the host the REGISTER came from is
    /// used as written (a phone, or a registering agent for a phone, on that host); otherwise the REGISTER's source
    /// address, which is right for phones behind NAT whose Contact names a private address.
    /// </summary>
    public static SipEndPoint? EndPointOf(PhoneBinding b)
    {
        var s = b.Source;
        int colon = s.IndexOf(':');
        if (colon < 0) return null;
        var protocol = s[..colon] == "tcp" ? SipProtocol.Tcp : SipProtocol.Udp;
        if (!System.Net.IPEndPoint.TryParse(s[(colon + 1)..], out var source)) return null;
        if (SipUri.Parse(b.Contact) is { } contact && System.Net.IPAddress.TryParse(contact.Host.Trim('[', ']'), out var ip)
            && ip.Equals(source.Address) && protocol == SipProtocol.Udp)
            return new SipEndPoint(protocol, new System.Net.IPEndPoint(ip, contact.PortOrDefault));
        return new SipEndPoint(protocol, source);
    }
}
