using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>
/// Attended transfer from the phone's own keys: REFER with Replaces (RFC 3515, RFC 3891). No phone available here
/// does attended transfer (baresip 1.0 cannot, and a sipp scenario holds only one dialog), so extension 100 is a
/// scripted phone: a hand-driven SIP user agent on a raw UDP socket. 101 and 102 are real sipp phones.
/// </summary>
public sealed class AttendedTransferTests
{
    [Fact]
    public async Task Refer_with_replaces_joins_the_two_partners_and_releases_the_transferring_phone()
    {
        var log = new ListLogger();
        await using var f = new SwitchFixture(log: log);
        int p101 = Ports.FreeUdp(), p102 = Ports.FreeUdp();
        using var phone101 = Sipp.Start("uas_reinvite.xml", p101, null);
        using var phone102 = Sipp.Start("uas_reinvite.xml", p102, null);
        foreach (var (user, port) in new[] { ("101", p101), ("102", p102) })
        {
            using var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", user, "-au", user, "-ap", "pw" + user,
                "-key", "contact_port", port.ToString(CultureInfo.InvariantCulture), "-key", "expect", "200");
            Assert.Equal(0, (await reg.ExitAsync()).Code);
        }

        using var phone = new ScriptedPhone("100", "pw100", f.Switch.LocalEndPoint);
        var first = await phone.CallAsync("101", "att-call-1");
        var second = await phone.CallAsync("102", "att-call-2");
        Assert.Equal(2, f.Model.ConnectionsOf("100").Count);
        // A person presses "transfer" seconds later; the switch uses a call only once its ACK is in (RFC 3261 §14.2),
        // and ACK and REFER sent back to back may be handled in either order.
        await Task.Delay(500);

        // REFER on the first call: "connect 101 to the party of my second call, replacing that dialog".
        var replaces = Uri.EscapeDataString($"{second.CallId};to-tag={second.RemoteTag};from-tag={second.LocalTag}");
        var refer = phone.InDialog("REFER", first);
        refer.Add("Refer-To", $"<sip:102@127.0.0.1:{f.Switch.LocalEndPoint.Port}?Replaces={replaces}>");
        refer.Add("Referred-By", "<sip:100@127.0.0.1>");
        var accepted = await phone.SendAsync(refer);
        Assert.Equal(202, accepted.StatusCode);

        var notify = await phone.WaitRequestAsync("NOTIFY");
        Assert.True(Encoding.ASCII.GetString(notify.Body).StartsWith("SIP/2.0 200", StringComparison.Ordinal), Encoding.ASCII.GetString(notify.Body));
        Assert.Equal("refer", notify["Event"]);
        await phone.WaitRequestAsync("BYE", first.CallId);
        await phone.WaitRequestAsync("BYE", second.CallId);

        for (int i = 0; i < 100 && f.Model.ConnectionsOf("101").FirstOrDefault() is not { } c101; i++) await Task.Delay(20);
        var conn = Assert.Single(f.Model.ConnectionsOf("101"));
        Assert.Equal("102", Assert.Single(f.Model.PartnersOf(conn)).Party);
        Assert.Empty(f.Model.ConnectionsOf("100"));

        // The REFER's outcome is one line that names the transfer once (not "REFER from 100 to 102: REFER from …").
        var refer100 = Assert.Single(log.Lines, l => l.Text.Contains("REFER from 100", StringComparison.Ordinal));
        Assert.DoesNotContain("REFER from 100 to 102: REFER from", refer100.Text, StringComparison.Ordinal);

        Assert.Equal(ReplyCode.Ok, (await f.Switch.DropAsync("101")).Code);
        var (code101, out101) = await phone101.ExitAsync();
        var (code102, out102) = await phone102.ExitAsync();
        Assert.True(code101 == 0, "101: " + out101);
        Assert.True(code102 == 0, "102: " + out102);
    }
}

/// <summary>
/// A scripted SIP phone (a test stand-in, not a real phone) on a raw UDP socket: places authenticated calls, sends
/// requests in their dialogs, and answers every request it receives with 200 while recording it.
/// </summary>
internal sealed class ScriptedPhone : IDisposable
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly string _user;
    private readonly string _password;
    private readonly IPEndPoint _switch;
    private readonly ConcurrentQueue<SipRequest> _requests = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<SipResponse>> _waiting = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _branch;

    public ScriptedPhone(string user, string password, IPEndPoint sw)
    {
        (_user, _password, _switch) = (user, password, sw);
        _loop = Task.Run(ReceiveLoopAsync);
    }

    public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

    /// <summary>
    /// How the phone answers requests of the switch (ACK aside); by default 200 at once. Runs beside the receive loop,
    /// so an answer may wait (a phone slow to answer a re-INVITE) while other messages still come in.
    /// </summary>
    public Func<SipRequest, Task<SipResponse>>? Responder { get; set; }

    /// <summary>A confirmed call of this phone.</summary>
    public sealed record Dialog(string CallId, string LocalTag, string RemoteTag, string To)
    {
        public uint CSeq { get; set; } = 2;
    }

    /// <summary>Calls <paramref name="target"/>: INVITE, the 407 answered with credentials, 200, ACK.</summary>
    public async Task<Dialog> CallAsync(string target, string callId)
    {
        var tag = callId + "-tag";
        SipRequest Invite(uint cseq)
        {
            var r = NewRequest("INVITE", $"sip:{target}@127.0.0.1:{_switch.Port}", callId, tag, $"<sip:{target}@127.0.0.1>", cseq);
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = Encoding.ASCII.GetBytes($"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {40000 + Port % 1000 * 2} RTP/AVP 0\r\n");
            return r;
        }
        var first = Invite(1);
        var challenge = await SendAsync(first);
        Assert.Equal(407, challenge.StatusCode);
        await SendRawAsync(Ack(first, challenge[SipHeaderNames.To]!, 1));
        var second = Invite(2);
        Assert.True(DigestClient.Answer(challenge, second, _user, _password));
        var ok = await SendAsync(second);
        Assert.Equal(200, ok.StatusCode);
        await SendRawAsync(Ack(second, ok[SipHeaderNames.To]!, 2));
        return new Dialog(callId, tag, ok.To.Tag!, ok[SipHeaderNames.To]!);
    }

    /// <summary>A new request in a call's dialog.</summary>
    public SipRequest InDialog(string method, Dialog d) =>
        NewRequest(method, $"sip:{d.To.Split('<', '>')[1].Split('@')[0][4..]}@127.0.0.1:{_switch.Port}", d.CallId, d.LocalTag, d.To, ++d.CSeq);

    /// <summary>Sends a request and waits for its final response.</summary>
    public async Task<SipResponse> SendAsync(SipRequest request)
    {
        var key = request.CSeq.Number + request.CallId;
        var tcs = _waiting.GetOrAdd(key, _ => new TaskCompletionSource<SipResponse>(TaskCreationOptions.RunContinuationsAsynchronously));
        await SendRawAsync(request);
        return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>ACKs the 2xx of a re-INVITE sent with <see cref="SendAsync"/>.</summary>
    public Task AckAsync(SipRequest invite, SipResponse ok) => SendRawAsync(Ack(invite, ok[SipHeaderNames.To]!, invite.CSeq.Number));

    /// <summary>The requests of <paramref name="method"/> the switch sent this phone so far (retransmissions counted once).</summary>
    public int Received(string method) => _requests.Where(r => r.Method == method).Select(r => (r.CallId, r.CSeq.Number)).Distinct().Count();

    /// <summary>Waits until the switch sent this phone a request of <paramref name="method"/> (in a given call, if named).</summary>
    public async Task<SipRequest> WaitRequestAsync(string method, string? callId = null)
    {
        for (int i = 0; i < 500; i++)
        {
            var found = _requests.FirstOrDefault(r => r.Method == method && (callId is null || r.CallId == callId));
            if (found is not null) return found;
            await Task.Delay(20);
        }
        throw new TimeoutException($"no {method} received; got: {string.Join(", ", _requests.Select(r => r.Method + " " + r.CallId))}");
    }

    private SipRequest NewRequest(string method, string uri, string callId, string tag, string to, uint cseq)
    {
        var r = new SipRequest(method, uri);
        r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP 127.0.0.1:{Port};branch=z9hG4bKscripted{Interlocked.Increment(ref _branch)};rport");
        r.Add(SipHeaderNames.From, $"<sip:{_user}@127.0.0.1>;tag={tag}");
        r.Add(SipHeaderNames.To, to);
        r.Add(SipHeaderNames.CallId, callId);
        r.Add(SipHeaderNames.CSeq, $"{cseq} {method}");
        r.Add(SipHeaderNames.Contact, $"<sip:{_user}@127.0.0.1:{Port}>");
        r.Add(SipHeaderNames.MaxForwards, "70");
        return r;
    }

    private static SipRequest Ack(SipRequest invite, string to, uint cseq)
    {
        var ack = new SipRequest("ACK", invite.Uri);
        ack.Add(SipHeaderNames.Via, invite[SipHeaderNames.Via]!);
        ack.Add(SipHeaderNames.From, invite[SipHeaderNames.From]!);
        ack.Add(SipHeaderNames.To, to);
        ack.Add(SipHeaderNames.CallId, invite.CallId);
        ack.Add(SipHeaderNames.CSeq, $"{cseq} ACK");
        return ack;
    }

    private Task SendRawAsync(SipMessage message) => _udp.SendAsync(message.ToBytes(), _switch).AsTask();

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (true)
            {
                var r = await _udp.ReceiveAsync(_stop.Token);
                if (SipParser.Parse(r.Buffer, true, SipParserLimits.Default, out var m, out _, out _) != SipParseStatus.Complete) continue;
                switch (m)
                {
                    case SipResponse resp when resp.StatusCode >= 200:
                        if (_waiting.TryGetValue(resp.CSeq.Number + resp.CallId, out var tcs)) tcs.TrySetResult(resp);
                        break;
                    case SipRequest req when req.Method != "ACK":
                        _requests.Enqueue(req);
                        if (Responder is { } responder)
                        {
                            var from = r.RemoteEndPoint;
                            _ = Task.Run(async () => await _udp.SendAsync((await responder(req)).ToBytes(), from));
                        }
                        else
                        {
                            await _udp.SendAsync(SipResponse.For(req, 200).ToBytes(), r.RemoteEndPoint);
                        }
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
        _stop.Dispose();
    }
}
