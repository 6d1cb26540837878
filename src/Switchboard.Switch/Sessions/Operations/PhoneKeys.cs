using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Switch.Calls;
using Switchboard.Switch.Sessions;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>
/// What users do with their phones' own keys, shown like the CTI services: hold and resume (re-INVITE with
/// <c>sendonly</c>/<c>inactive</c> and back) become Held/Retrieved events, a blind transfer (REFER) is the same blind
/// transfer as Redirect of a connected call, and an attended transfer (REFER with Replaces, RFC 3891) is Transfer.
/// </summary>
public sealed partial class SipSwitch
{
    /// <summary>After a relayed re-INVITE: a phone that offered sendonly or inactive holds, one that offers sending again resumes.</summary>
    private void NotePhoneHold(CallSession call, Leg leg, byte[] offer)
    {
        if ((leg == call.A ? call.Caller : call.Callee) is { } conn) NotePhoneHold(conn, offer);
    }

    private void NotePhoneHold(Connection conn, byte[] offer)
    {
        if (offer.Length == 0) return;
        var direction = SdpText.DirectionOf(offer);
        if (direction is "sendonly" or "inactive" && conn.State == ConnectionState.Connected)
            _model.ChangeState(conn, ConnectionState.Held, CallEventType.Held, "hold key");
        else if (direction is "sendrecv" or "recvonly" && conn.State == ConnectionState.Held)
            _model.ChangeState(conn, ConnectionState.Connected, CallEventType.Retrieved, "resume key");
    }

    /// <summary>
    /// REFER from a phone in a call (RFC 3515): blind transfer of its partner, or attended with Replaces. Accepted (202)
    /// in the session's turn; the transfer itself then runs as its own operation, which takes the turns it needs
    /// (both calls' for an attended transfer) without waiting inside this one.
    /// </summary>
    private async Task OnReferAsync(ServerTransaction txn, CallSession call, Leg leg)
    {
        var req = txn.Request;
        var conn = call.ConnectionOf(leg);
        var referTo = req["Refer-To"] ?? req["r"];
        var uri = referTo is null ? null : NameAddress.Parse(referTo).SipUri;
        if (conn is null || call.State != SessionState.Connected)
        {
            await txn.RespondAsync(481, "Call Does Not Exist (not a connected call)").ConfigureAwait(false);
            return;
        }
        if (uri?.User is not { Length: > 0 } rawTarget || !DialString.TryNormalizeUriUser(rawTarget, out var target, out _, out _))
        {
            await txn.RespondAsync(400, "Bad Request (Refer-To needs a SIP URI with a number)").ConfigureAwait(false);
            return;
        }
        var what = $"REFER from {leg.Device} to {target}";
        var replaces = ReplacesOf(uri.HeadersPart);
        if (replaces is not null)
        {
            // Attended transfer: the dialog named by Replaces is the phone's other call; its partner joins this one's.
            var other = FindDialog(replaces.Value.CallId, replaces.Value.ToTag, replaces.Value.FromTag);
            var otherConn = other is { } o ? o.Call.ConnectionOf(o.Leg) : null;
            if (otherConn is null || other!.Value.Leg.Device != leg.Device)
            {
                await txn.RespondAsync(481, "Call Does Not Exist (Replaces names no call of this phone)").ConfigureAwait(false);
                return;
            }
            await AcceptReferAsync(txn, leg, call).ConfigureAwait(false);
            var (otherCall, otherLeg) = other.Value;
            RunDetached(() => CallSession.RunBothAsync(call, otherCall, async () =>
            {
                var result = await JoinPartnersAsync(what, leg.Device, conn, otherConn, byeController: false).ConfigureAwait(false);
                await NotifyReferOutcomeAsync(leg, call, result).ConfigureAwait(false);
                ByeIfStillUp(otherCall, otherLeg);
                FinishRefer(call, leg, target, result);
                return true;
            }));
        }
        else
        {
            var refused = CheckRetarget(what, leg.Device, target, out var route);
            if (refused is { } no)
            {
                await txn.RespondAsync(no.Code == ReplyCode.NotFound ? 404 : 403, $"{(no.Code == ReplyCode.NotFound ? "Not Found" : "Forbidden")} ({no.Message})").ConfigureAwait(false);
                return;
            }
            await AcceptReferAsync(txn, leg, call).ConfigureAwait(false);
            RunDetached(() => call.RunAsync(async () =>
            {
                var result = await TransferConnected(what, conn, route.Target, "transferred by " + leg.Device, byeController: false).ConfigureAwait(false);
                await NotifyReferOutcomeAsync(leg, call, result).ConfigureAwait(false);
                FinishRefer(call, leg, target, result);
            }));
        }
    }

    private void FinishRefer(CallSession call, Leg leg, string target, CallControlResult result)
    {
        if (result.Code == ReplyCode.Ok) ByeIfStillUp(call, leg);
        // The result's message already names the REFER ("REFER from 102 to 101: …"): logged once, with its code.
        SwitchLog.ReferDone(_log, leg.Device, target, (int)result.Code, result.Message);
    }

    /// <summary>Starts an operation that owns its own turns; a failure is logged, as the phone got its 202 already.</summary>
    private void RunDetached(Func<Task> operation) => _ = Task.Run(async () =>
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SwitchLog.OperationFailed(_log, ex);
        }
    });

    private async Task AcceptReferAsync(ServerTransaction txn, Leg leg, CallSession call)
    {
        var accepted = SipResponse.For(txn.Request, 202, "Accepted");
        accepted.Add(SipHeaderNames.Contact, ContactFor(call.Other(leg)?.Device ?? leg.Device, leg.Dialog.Peer));
        await txn.RespondAsync(accepted).ConfigureAwait(false);
    }

    /// <summary>
    /// The final NOTIFY of the implicit subscription (RFC 3515 §2.4.5, message/sipfrag): 200 once the switch has taken
    /// the call over, so the phone hangs up its side; the switch releases it anyway.
    /// </summary>
    private async Task NotifyReferOutcomeAsync(Leg leg, CallSession call, CallControlResult result)
    {
        var notify = leg.Dialog.NewRequest("NOTIFY", ContactFor(call.Other(leg)?.Device ?? leg.Device, leg.Dialog.Peer));
        notify.Add("Event", "refer");
        notify.Add("Subscription-State", "terminated;reason=noresource");
        notify.Add(SipHeaderNames.ContentType, "message/sipfrag;version=2.0");
        // A refusal carries its reason in a Warning header of the fragment (RFC 3261 §20.43), for the phone's log.
        notify.Body = Encoding.ASCII.GetBytes(result.Code == ReplyCode.Ok ? "SIP/2.0 200 OK\r\n"
            : $"SIP/2.0 503 Service Unavailable\r\nWarning: 399 switchboard \"{result.Message.Replace('"', '\'')}\"\r\n");
        await _layer.Send(notify, leg.Dialog.Peer).FinalResponse.ConfigureAwait(false);
    }

    private (CallSession Call, Leg Leg)? FindDialog(string callId, string? toTag, string? fromTag)
    {
        // Replaces names the tags as the referring phone sees its dialog; the switch's own tag is one of the two.
        foreach (var tag in new[] { toTag, fromTag })
            if (tag is not null && _dialogs.TryGetValue(SipDialog.KeyOf(callId, tag), out var d)) return d;
        return null;
    }

    /// <summary>The Replaces header embedded in a Refer-To URI (<c>?Replaces=callid%3Bto-tag%3D…%3Bfrom-tag%3D…</c>).</summary>
    internal static (string CallId, string? ToTag, string? FromTag)? ReplacesOf(string? uriHeaders)
    {
        if (uriHeaders is null) return null;
        foreach (var h in uriHeaders.TrimStart('?').Split('&'))
        {
            var eq = h.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0 || !h[..eq].Equals("Replaces", StringComparison.OrdinalIgnoreCase)) continue;
            var parts = Uri.UnescapeDataString(h[(eq + 1)..]).Split(';');
            string? to = null, from = null;
            foreach (var p in parts.Skip(1))
            {
                var kv = p.Split('=', 2);
                if (kv.Length != 2) continue;
                if (kv[0].Trim().Equals("to-tag", StringComparison.OrdinalIgnoreCase)) to = kv[1].Trim();
                else if (kv[0].Trim().Equals("from-tag", StringComparison.OrdinalIgnoreCase)) from = kv[1].Trim();
            }
            return parts[0].Length == 0 ? null : (parts[0].Trim(), to, from);
        }
        return null;
    }
}
