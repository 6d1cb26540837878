using System.Net.Sockets;
using System.Net;
using System.Text;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Telephony;
using Switchboard.Testing.Phones;
using Switchboard.Testing.Topology;

namespace Switchboard.Switch.Tests.Net;

/// <summary>
/// Phones that are not on the switch's loopback, on the wire: a phone in its own network namespace (another host),
/// phones behind NAT (a Contact that names a private address), phones that move and phones that stop answering.
/// </summary>
public sealed class PhonesOnNetworksTests
{
    private static SwitchFixture Wildcard(Action<SwitchOptions>? more = null) => new(configure: o =>
    {
        o.ListenAddress = "0.0.0.0";
        more?.Invoke(o);
    });

    private static IPEndPoint Loopback(SwitchFixture f) => new(IPAddress.Loopback, f.Switch.LocalEndPoint.Port);

    [Fact]
    public async Task A_phone_on_another_host_gets_the_route_address_in_Via_Contact_and_SDP_and_its_hangup_reaches_the_switch()
    {
        using var ns = NetNs.Create();
        await using var f = Wildcard();
        await using var callee = new RawPhone(ns.UdpSocket(), "101", "pw101", new IPEndPoint(ns.HostAddress, f.Switch.LocalEndPoint.Port));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", Loopback(f));
        using var callerRtp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        callerRtp.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var calling = caller.CallAsync("101", "127.0.0.1", ((IPEndPoint)callerRtp.LocalEndPoint!).Port, "ns-call-" + Guid.NewGuid().ToString("N"));
        var (invite, _) = await callee.RequestAsync("INVITE");
        var host = ns.HostAddress.ToString();
        var text = invite.ToString();
        Assert.Equal(host, invite.TopVia!.Host);
        Assert.Contains($"@{host}:{f.Switch.LocalEndPoint.Port}", invite[SipHeaderNames.Contact]);
        Assert.DoesNotContain("0.0.0.0", text);
        Assert.DoesNotContain("127.0.0.1", text);
        // The phones are on different subnets (loopback and the namespace's link): the switch anchors the media.
        var offered = MediaOf(invite.Body);
        Assert.Equal(host, offered.Address);

        // The callee answers to the Via sent-by, as RFC 3261 §18.2.2 says: that address must reach the switch.
        var sentBy = new IPEndPoint(IPAddress.Parse(invite.TopVia.Host), invite.TopVia.Port ?? 5060);
        await callee.RespondAsync(invite, 200, sentBy, RawPhone.Sdp(ns.PeerAddress.ToString(), 4000));
        var (ack, ackFrom) = await callee.RequestAsync("ACK");
        Assert.Equal(host, ack.TopVia!.Host);
        Assert.Equal(ns.HostAddress, ackFrom.Address);

        var (sent, final) = await calling;
        Assert.Equal(200, final.StatusCode);
        await caller.AckAsync(sent, final);
        Assert.Equal("127.0.0.1", MediaOf(final.Body).Address);
        Assert.Contains("@127.0.0.1:", final[SipHeaderNames.Contact]);

        // Audio from the namespace phone to the switch's endpoint reaches the caller through the media engine.
        using var calleeRtp = ns.UdpSocket();
        var toSwitch = new IPEndPoint(ns.HostAddress, offered.Port);
        var heard = ReceiveLoudAsync(callerRtp);
        for (int i = 0; i < 60 && !heard.IsCompleted; i++)
        {
            await calleeRtp.SendToAsync(Rtp((ushort)i), SocketFlags.None, toSwitch);
            await Task.Delay(20);
        }
        Assert.True(await heard, "the caller heard nothing of the namespace phone's audio");

        // The callee hangs up towards the Contact the switch gave it (the issue-10 bug: that was 127.0.0.1).
        var contact = SipUri.Parse(NameAddress.Parse(invite[SipHeaderNames.Contact]!).Uri)!;
        var bye = callee.NewRequest("BYE", invite[SipHeaderNames.Contact]!.Trim('<', '>'), invite.CallId, "callee", invite[SipHeaderNames.From]!);
        await callee.SendAsync(bye, new IPEndPoint(IPAddress.Parse(contact.Host), contact.PortOrDefault));
        Assert.Equal(200, (await callee.ResponseAsync(bye)).StatusCode);
        var (byeToCaller, byeFrom) = await caller.RequestAsync("BYE");
        await caller.RespondAsync(byeToCaller, 200, byeFrom);
        await Eventually(() => f.Model.Calls.Count == 0);

        var status = await f.Switch.GetStatusAsync("101");
        Assert.Equal($"UDP:{callee.Local}", status!.RegisteredFrom);
    }

    [Fact]
    public async Task MakeCall_rings_a_phone_on_another_host_with_no_loopback_or_wildcard_address_in_its_INVITE()
    {
        // MakeCall's auto-answer hints (Call-Info, Alert-Info) are addresses on the wire too: the Alert-Info said
        // http://127.0.0.1/autoanswer to every phone.
        using var ns = NetNs.Create();
        await using var f = Wildcard();
        await using var phone = new RawPhone(ns.UdpSocket(), "101", "pw101", new IPEndPoint(ns.HostAddress, f.Switch.LocalEndPoint.Port));
        Assert.Equal(200, (await phone.RegisterAsync()).StatusCode);
        await using var other = RawPhone.OnLoopback("127.0.0.1", "102", "pw102", Loopback(f));
        Assert.Equal(200, (await other.RegisterAsync()).StatusCode);

        var made = await f.Switch.MakeCallAsync("101", "102");
        Assert.Equal(ReplyCode.Ok, made.Code);
        var (invite, from) = await phone.RequestAsync("INVITE");
        var text = invite.ToString();
        Assert.Contains("alert-autoanswer", invite["Alert-Info"]);
        Assert.Contains(ns.HostAddress.ToString(), invite["Alert-Info"]);
        Assert.DoesNotContain("127.0.0.1", text);
        Assert.DoesNotContain("0.0.0.0", text);
        await phone.RespondAsync(invite, 486, from);
        await Eventually(() => f.Model.Calls.Count == 0);
    }

    [Fact]
    public async Task A_remote_phone_with_an_unroutable_Contact_is_reached_at_its_flow()
    {
        using var ns = NetNs.Create();
        await using var f = Wildcard();
        await using var callee = new RawPhone(ns.UdpSocket(), "101", "pw101", new IPEndPoint(ns.HostAddress, f.Switch.LocalEndPoint.Port));
        Assert.Equal(200, (await callee.RegisterAsync("<sip:101@127.0.0.1:5060>")).StatusCode);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", Loopback(f));
        var calling = caller.CallAsync("101", "127.0.0.1", 40002, "unroutable-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        Assert.Equal(ns.HostAddress, from.Address);
        Assert.Equal(ns.HostAddress.ToString(), MediaOf(invite.Body).Address);
        await callee.RespondAsync(invite, 486, from);
        Assert.Equal(486, (await calling).Final.StatusCode);
    }

    [Fact]
    public async Task A_phone_behind_NAT_is_called_at_its_flow_and_its_call_is_anchored_in_the_switch()
    {
        await using var f = Wildcard();
        await using var callee = RawPhone.OnLoopback("127.0.0.3", "101", "pw101", Loopback(f));
        // What a phone behind a NAT router registers: its private address, not the mapped source the switch sees.
        Assert.Equal(200, (await callee.RegisterAsync("<sip:101@192.168.77.10:5060>")).StatusCode);
        await using var caller = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", Loopback(f));

        var calling = caller.CallAsync("101", "127.0.0.2", 40004, "nat-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        // The phone gets the switch's media endpoint, not the caller's: it could not send to the caller from behind its NAT.
        Assert.NotEqual("127.0.0.2", MediaOf(invite.Body).Address);
        await callee.RespondAsync(invite, 200, from, RawPhone.Sdp("192.168.77.10", 4000));
        await callee.RequestAsync("ACK");
        var (sent, final) = await calling;
        Assert.Equal(200, final.StatusCode);
        Assert.NotEqual("192.168.77.10", MediaOf(final.Body).Address);
        await caller.AckAsync(sent, final);

        var bye = caller.NewRequest("BYE", $"sip:101@{Loopback(f)}", sent.CallId, "call100", final[SipHeaderNames.To]!);
        await caller.SendAsync(bye);
        Assert.Equal(200, (await caller.ResponseAsync(bye)).StatusCode);
        var (byeAtPhone, byeFrom) = await callee.RequestAsync("BYE");
        Assert.Equal(f.Switch.LocalEndPoint.Port, byeFrom.Port);
        await callee.RespondAsync(byeAtPhone, 200, byeFrom);
        Assert.Equal($"UDP:{callee.Local}", (await f.Switch.GetStatusAsync("101"))!.RegisteredFrom);
    }

    [Fact]
    public async Task A_phone_behind_a_real_NAT_router_is_called_through_its_mapping_and_turns_unreachable_when_the_mapping_is_gone()
    {
        using var nat = NatNs.Create();
        await using var f = Wildcard(o =>
        {
            o.T1Milliseconds = 50;
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
            o.KeepAliveFailures = 2;
        });
        var server = new IPEndPoint(nat.Router.HostAddress, f.Switch.LocalEndPoint.Port);
        await using var phone = new RawPhone(nat.PhoneSocket(), "101", "pw101", server);
        Assert.Equal(200, (await phone.RegisterAsync()).StatusCode); // Contact: its private 192.168 address
        var registered = (await f.Switch.GetStatusAsync("101"))!.RegisteredFrom!;
        Assert.StartsWith($"UDP:{nat.Router.PeerAddress}:", registered); // the router's public side, not the phone

        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", Loopback(f));
        var calling = caller.CallAsync("101", "127.0.0.1", 40012, "realnat-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await phone.RequestAsync("INVITE");
        Assert.Equal(nat.Router.HostAddress.ToString(), MediaOf(invite.Body).Address);
        await phone.RespondAsync(invite, 486, from);
        Assert.Equal(486, (await calling).Final.StatusCode);
        await Eventually(() => phone.PingsSeen >= 1, TimeSpan.FromSeconds(10));

        nat.DropEverything();
        await Eventually(() => !f.Model.IsReachable("101"), TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(MediaAnchorMode.Auto, true)]
    [InlineData(MediaAnchorMode.Always, false)]
    public async Task Two_phones_on_one_subnet_without_NAT_keep_media_phone_to_phone_unless_anchoring_is_forced(MediaAnchorMode mode, bool direct)
    {
        await using var f = Wildcard(o => o.MediaAnchor = mode);
        await using var callee = RawPhone.OnLoopback("127.0.0.3", "101", "pw101", Loopback(f));
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        await using var caller = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", Loopback(f));
        var calling = caller.CallAsync("101", "127.0.0.2", 40006, "lan-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await callee.RequestAsync("INVITE");
        Assert.Equal(direct, MediaOf(invite.Body).Address == "127.0.0.2");
        await callee.RespondAsync(invite, 200, from, RawPhone.Sdp("127.0.0.3", 4000));
        var (sent, final) = await calling;
        Assert.Equal(200, final.StatusCode);
        Assert.Equal(direct, MediaOf(final.Body).Address == "127.0.0.3");
        await caller.AckAsync(sent, final);
        Assert.Equal(direct ? 0 : 1, f.Switch.AnchoredCalls);
    }

    [Fact]
    public async Task A_phone_that_moves_replaces_its_flow()
    {
        await using var f = Wildcard();
        await using var before = RawPhone.OnLoopback("127.0.0.4", "101", "pw101", Loopback(f));
        Assert.Equal(200, (await before.RegisterAsync("<sip:101@192.168.1.20:5060>")).StatusCode);
        // Same phone (same Call-ID), new network: new address, new Contact.
        await using var after = RawPhone.OnLoopback("127.0.0.5", "101", "pw101", Loopback(f));
        after.CallId = before.CallId;
        Assert.Equal(200, (await after.RegisterAsync("<sip:101@10.9.9.9:5060>")).StatusCode);
        Assert.Equal($"UDP:{after.Local}", (await f.Switch.GetStatusAsync("101"))!.RegisteredFrom);

        await using var caller = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", Loopback(f));
        var calling = caller.CallAsync("101", "127.0.0.2", 40008, "moved-" + Guid.NewGuid().ToString("N"));
        var (invite, from) = await after.RequestAsync("INVITE");
        await after.RespondAsync(invite, 486, from);
        Assert.Equal(486, (await calling).Final.StatusCode);
    }

    [Fact]
    public async Task A_phone_that_stops_answering_pings_is_shown_unreachable_until_it_registers_again()
    {
        await using var f = Wildcard(o =>
        {
            o.T1Milliseconds = 50; // 64*T1 = 3.2 s per unanswered ping
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
            o.KeepAliveFailures = 2;
        });
        await using var phone = RawPhone.OnLoopback("127.0.0.6", "101", "pw101", Loopback(f));
        Assert.Equal(200, (await phone.RegisterAsync()).StatusCode);
        await Eventually(() => phone.PingsSeen >= 2);
        Assert.True((await f.Switch.GetStatusAsync("101"))!.Reachable);

        phone.AnswersPings = false; // the NAT mapping expired, or the phone was unplugged
        await Eventually(() => !f.Model.IsReachable("101"), TimeSpan.FromSeconds(30));
        Assert.False((await f.Switch.GetStatusAsync("101"))!.Reachable);

        phone.AnswersPings = true;
        Assert.Equal(200, (await phone.RegisterAsync()).StatusCode);
        Assert.True(f.Model.IsReachable("101"));
    }

    [Fact]
    public async Task A_phone_registered_over_TCP_from_behind_NAT_is_called_over_the_connection_it_registered_on()
    {
        await using var f = Wildcard();
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        tcp.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.7"), 0));
        await tcp.ConnectAsync(Loopback(f));
        var local = (IPEndPoint)tcp.LocalEndPoint!;
        var stream = new TcpSip(tcp);
        SipRequest Register(int cseq)
        {
            var r = new SipRequest("REGISTER", $"sip:{Loopback(f)}");
            r.Add(SipHeaderNames.Via, $"SIP/2.0/TCP {local};branch=z9hG4bK{Guid.NewGuid():N};rport");
            r.Add(SipHeaderNames.From, "<sip:101@127.0.0.1>;tag=tcpreg");
            r.Add(SipHeaderNames.To, "<sip:101@127.0.0.1>");
            r.Add(SipHeaderNames.CallId, "tcp-reg-" + local.Port);
            r.Add(SipHeaderNames.CSeq, $"{cseq} REGISTER");
            r.Add(SipHeaderNames.MaxForwards, "70");
            r.Add(SipHeaderNames.Contact, "<sip:101@192.168.77.11:5060;transport=tcp>");
            r.Add(SipHeaderNames.Expires, "300");
            return r;
        }
        var first = Register(1);
        await stream.SendAsync(first);
        var challenge = (SipResponse)await stream.NextAsync();
        Assert.Equal(401, challenge.StatusCode);
        var second = Register(2);
        Assert.True(Sip.Auth.DigestClient.Answer(challenge, second, "101", "pw101"));
        await stream.SendAsync(second);
        Assert.Equal(200, ((SipResponse)await stream.NextAsync()).StatusCode);
        Assert.Equal($"TCP:{local}", (await f.Switch.GetStatusAsync("101"))!.RegisteredFrom);

        await using var caller = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", Loopback(f));
        var calling = caller.CallAsync("101", "127.0.0.2", 40010, "tcp-" + Guid.NewGuid().ToString("N"));
        SipRequest invite;
        do invite = (SipRequest)await stream.NextAsync(); while (invite.Method == "OPTIONS");
        Assert.Equal("INVITE", invite.Method);
        Assert.Equal("TCP", invite.TopVia!.Transport);
        Assert.Contains(";transport=tcp", invite[SipHeaderNames.Contact]);
        await stream.SendAsync(SipResponse.For(invite, 486, toTag: "busy"));
        Assert.Equal(486, (await calling).Final.StatusCode);
    }

    /// <summary>SIP over one TCP connection, framed by Content-Length.</summary>
    private sealed class TcpSip(Socket socket)
    {
        private readonly byte[] _buffer = new byte[65536];
        private int _filled;

        public Task SendAsync(SipMessage m) => socket.SendAsync(m.ToBytes(), SocketFlags.None);

        public async Task<SipMessage> NextAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (true)
            {
                if (_filled > 0)
                {
                    var status = SipParser.Parse(_buffer.AsSpan(0, _filled), false, SipParserLimits.Default, out var m, out var consumed, out _);
                    if (status != SipParseStatus.Incomplete)
                    {
                        Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _filled - consumed);
                        _filled -= consumed;
                        if (status == SipParseStatus.Complete && m is not null) return m;
                        continue;
                    }
                }
                int n = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cts.Token);
                if (n == 0) throw new IOException("the switch closed the connection");
                _filled += n;
            }
        }
    }

    private static (string Address, int Port) MediaOf(byte[] sdp)
    {
        string? c = null;
        int port = 0;
        foreach (var line in Encoding.ASCII.GetString(sdp).Split("\r\n"))
        {
            if (line.StartsWith("c=IN IP4 ", StringComparison.Ordinal)) c = line[9..];
            if (line.StartsWith("m=audio ", StringComparison.Ordinal)) port = int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.NotNull(c);
        return (c, port);
    }

    private static byte[] Rtp(ushort seq)
    {
        var p = new byte[12 + 160];
        p[0] = 0x80;
        p[1] = 0; // PCMU
        p[2] = (byte)(seq >> 8);
        p[3] = (byte)seq;
        uint ts = seq * 160u;
        p[4] = (byte)(ts >> 24);
        p[5] = (byte)(ts >> 16);
        p[6] = (byte)(ts >> 8);
        p[7] = (byte)ts;
        p[8] = 0x12;
        p[9] = 0x34;
        p[10] = 0x56;
        p[11] = 0x78;
        // A loud square wave in µ-law (0x00 and 0x80 are the two extremes).
        for (int i = 0; i < 160; i++) p[12 + i] = (byte)((i / 10) % 2 == 0 ? 0x00 : 0x80);
        return p;
    }

    /// <summary>True once a packet arrives whose µ-law payload is far from silence (0xFF/0x7F).</summary>
    private static async Task<bool> ReceiveLoudAsync(Socket s)
    {
        var buffer = new byte[2048];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n > 12 && buffer.AsSpan(12, n - 12).ToArray().Count(b => (b & 0x7F) < 0x40) > 20) return true;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task Eventually(Func<bool> condition, TimeSpan? within = null)
    {
        var until = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail("condition not met in time");
            await Task.Delay(50);
        }
    }
}
