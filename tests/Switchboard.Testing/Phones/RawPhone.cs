using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Xunit;

namespace Switchboard.Testing.Phones;

/// <summary>
/// A phone written by hand: it sends exactly what a test says and keeps every message the switch sent it, so the test
/// can look at Via, Contact and SDP on the wire, or capture a request and play it again. It runs on a real UDP socket
/// (loopback or inside a network namespace) or on an <see cref="InMemorySipNetwork"/>. OPTIONS pings are answered
/// while <see cref="AnswersPings"/> is true.
/// </summary>
public sealed class RawPhone : IAsyncDisposable, IDisposable
{
    private readonly IDatagramLink _link;
    private readonly Channel<(SipMessage Message, IPEndPoint From)> _inbox = Channel.CreateUnbounded<(SipMessage, IPEndPoint)>();
    private readonly List<(SipMessage, IPEndPoint)> _unclaimed = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _cseq = 1;
    private int _pingsSeen;

    /// <summary>A phone on <paramref name="link"/> that sends its requests to <paramref name="server"/>.</summary>
    public RawPhone(IDatagramLink link, string device, string password, IPEndPoint server)
    {
        _link = link;
        Device = device;
        Password = password;
        Server = server;
        _loop = ReceiveLoopAsync();
    }

    /// <summary>A phone on a UDP socket the test bound (e.g. inside a network namespace).</summary>
    public RawPhone(Socket socket, string device, string password, IPEndPoint server) : this(new UdpLink(socket), device, password, server)
    {
    }

    /// <summary>A phone on a new UDP socket at <paramref name="address"/>.</summary>
    public static RawPhone OnLoopback(string address, string device, string password, IPEndPoint server, int port = 0)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
        return new RawPhone(s, device, password, server);
    }

    /// <summary>A phone at <paramref name="address"/> on an in-memory network.</summary>
    public static RawPhone InMemory(InMemorySipNetwork network, string address, string device, string password, IPEndPoint server) =>
        new(new InMemoryLink(network.Bind(address)), device, password, server);

    /// <summary>The extension this phone registers as.</summary>
    public string Device { get; }

    /// <summary>Its SIP password.</summary>
    public string Password { get; }

    /// <summary>Where the phone sends its requests (the switch as this phone reaches it).</summary>
    public IPEndPoint Server { get; set; }

    /// <summary>The phone's own address.</summary>
    public IPEndPoint Local => _link.Local;

    /// <summary>Whether OPTIONS pings are answered with 200.</summary>
    public bool AnswersPings { get; set; } = true;

    /// <summary>OPTIONS pings received so far.</summary>
    public int PingsSeen => Volatile.Read(ref _pingsSeen);

    /// <summary>The Call-ID of this phone's registrations.</summary>
    public string CallId { get; set; } = Guid.NewGuid().ToString("N") + "@rawphone";

    /// <summary>Sends a message as it is (to the server unless <paramref name="to"/> says otherwise).</summary>
    public Task SendAsync(SipMessage m, IPEndPoint? to = null) => _link.SendAsync(m.ToBytes(), to ?? Server).AsTask();

    /// <summary>A request from this phone with a new branch; CSeq counts up.</summary>
    public SipRequest NewRequest(string method, string uri, string callId, string fromTag, string to, string? contact = null)
    {
        var r = new SipRequest(method, uri);
        r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {Local};branch=z9hG4bK{Guid.NewGuid():N};rport");
        r.Add(SipHeaderNames.From, $"<sip:{Device}@{Server.Address}>;tag={fromTag}");
        r.Add(SipHeaderNames.To, to);
        r.Add(SipHeaderNames.CallId, callId);
        r.Add(SipHeaderNames.CSeq, $"{Interlocked.Increment(ref _cseq)} {method}");
        r.Add(SipHeaderNames.MaxForwards, "70");
        if (contact is not null) r.Add(SipHeaderNames.Contact, contact);
        return r;
    }

    /// <summary>A request from this phone with the given users, Call-ID and CSeq (for captures and replays).</summary>
    public SipRequest Request(string method, string uri, string fromUser, string toUser, string callId, int cseq)
    {
        var r = new SipRequest(method, uri);
        r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {Local};branch=z9hG4bK{Guid.NewGuid():N};rport");
        r.Add(SipHeaderNames.From, $"<sip:{fromUser}@{Server}>;tag=f{Local.Port}");
        r.Add(SipHeaderNames.To, $"<sip:{toUser}@{Server}>");
        r.Add(SipHeaderNames.CallId, callId);
        r.Add(SipHeaderNames.CSeq, $"{cseq} {method}");
        r.Add(SipHeaderNames.MaxForwards, "70");
        return r;
    }

    /// <summary>Sends and waits for the final response; an INVITE's non-2xx final is ACKed (RFC 3261 §17.1.1.3).</summary>
    public async Task<SipResponse> ExchangeAsync(SipRequest request)
    {
        await SendAsync(request);
        var final = await ResponseAsync(request, matchMethod: false);
        if (request.Method == "INVITE" && final.StatusCode >= 300) await AckAsync(request, final);
        return final;
    }

    /// <summary>REGISTER with digest; the Contact defaults to this phone's own address.</summary>
    public async Task<SipResponse> RegisterAsync(string? contact = null, int expires = 300)
    {
        contact ??= $"<sip:{Device}@{Local}>";
        SipRequest Build()
        {
            var r = NewRequest("REGISTER", $"sip:{Server}", CallId, "reg" + Device, $"<sip:{Device}@{Server.Address}>", contact);
            r.Add(SipHeaderNames.Expires, expires.ToString(CultureInfo.InvariantCulture));
            return r;
        }
        var first = Build();
        await SendAsync(first);
        var challenge = await ResponseAsync(first);
        if (challenge.StatusCode != 401) return challenge;
        var second = Build();
        Assert.True(DigestClient.Answer(challenge, second, Device, Password));
        await SendAsync(second);
        return await ResponseAsync(second);
    }

    /// <summary>An INVITE to <paramref name="target"/> with an SDP naming <paramref name="sdpAddress"/>; answers the 407 and returns the final response.</summary>
    public async Task<(SipRequest Invite, SipResponse Final)> CallAsync(string target, string sdpAddress, int rtpPort, string callId, string? contact = null)
    {
        SipRequest Build()
        {
            var r = NewRequest("INVITE", $"sip:{target}@{Server}", callId, "call" + Device, $"<sip:{target}@{Server.Address}>", contact ?? $"<sip:{Device}@{Local}>");
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = Sdp(sdpAddress, rtpPort);
            return r;
        }
        var first = Build();
        await SendAsync(first);
        var challenge = await ResponseAsync(first);
        await AckAsync(first, challenge);
        var second = Build();
        Assert.True(DigestClient.Answer(challenge, second, Device, Password));
        await SendAsync(second);
        return (second, await ResponseAsync(second));
    }

    /// <summary>The ACK of an INVITE's final response (for a 2xx the same fields; the tests' switch routes by dialog).</summary>
    public Task AckAsync(SipRequest invite, SipResponse final)
    {
        var ack = new SipRequest("ACK", invite.Uri);
        ack.Add(SipHeaderNames.Via, invite[SipHeaderNames.Via]!);
        ack.Add(SipHeaderNames.From, invite[SipHeaderNames.From]!);
        ack.Add(SipHeaderNames.To, final[SipHeaderNames.To]!);
        ack.Add(SipHeaderNames.CallId, invite.CallId);
        ack.Add(SipHeaderNames.CSeq, $"{invite.CSeq.Number} ACK");
        ack.Add(SipHeaderNames.MaxForwards, "70");
        return SendAsync(ack);
    }

    /// <summary>Answers a request from the switch (to where its top Via says, as RFC 3261 §18.2.2 asks).</summary>
    public Task RespondAsync(SipRequest request, int code, IPEndPoint from, byte[]? sdp = null, string toTag = "callee")
    {
        var r = SipResponse.For(request, code, toTag: request.To.Tag is null ? toTag : null);
        r.Add(SipHeaderNames.Contact, $"<sip:{Device}@{Local}>");
        if (sdp is not null)
        {
            r.Add(SipHeaderNames.ContentType, "application/sdp");
            r.Body = sdp;
        }
        return SendAsync(r, from);
    }

    /// <summary>A G.711 µ-law offer/answer at <paramref name="address"/>:<paramref name="port"/>.</summary>
    public static byte[] Sdp(string address, int port) => Encoding.ASCII.GetBytes(
        $"v=0\r\no=raw 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n");

    /// <summary>The next response to <paramref name="request"/> with a final status (provisionals are skipped).</summary>
    public async Task<SipResponse> ResponseAsync(SipRequest request, TimeSpan? timeout = null, bool matchMethod = true)
    {
        var (m, _) = await NextAsync(m => m is SipResponse r && r.StatusCode >= 200 && r.CallId == request.CallId && r.CSeq.Number == request.CSeq.Number
            && (!matchMethod || r.CSeq.Method == request.Method), timeout);
        return (SipResponse)m;
    }

    /// <summary>The next request of <paramref name="method"/> from the switch, and where it came from.</summary>
    public async Task<(SipRequest Request, IPEndPoint From)> RequestAsync(string method, TimeSpan? timeout = null)
    {
        var (m, from) = await NextAsync(m => m is SipRequest r && r.Method == method, timeout);
        return ((SipRequest)m, from);
    }

    private async Task<(SipMessage, IPEndPoint)> NextAsync(Func<SipMessage, bool> match, TimeSpan? timeout)
    {
        lock (_unclaimed)
        {
            int i = _unclaimed.FindIndex(x => match(x.Item1));
            if (i >= 0)
            {
                var hit = _unclaimed[i];
                _unclaimed.RemoveAt(i);
                return hit;
            }
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var item = await _inbox.Reader.ReadAsync(cts.Token);
            if (match(item.Message)) return item;
            lock (_unclaimed) _unclaimed.Add(item);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            byte[] datagram;
            IPEndPoint from;
            try
            {
                (datagram, from) = await _link.ReceiveAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (SipParser.Parse(datagram, true, SipParserLimits.Default, out var m, out _, out _) != SipParseStatus.Complete || m is null)
                continue;
            if (m is SipRequest { Method: "OPTIONS" } ping)
            {
                Interlocked.Increment(ref _pingsSeen);
                if (AnswersPings) await RespondAsync(ping, 200, from);
                continue;
            }
            _inbox.Writer.TryWrite((m, from));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _link.Dispose();
        await _loop;
        _stop.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
