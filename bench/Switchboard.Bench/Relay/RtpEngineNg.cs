using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench.Relay;

/// <summary>
/// The least of rtpengine's ng control protocol the bench needs: a bencoded dictionary after a cookie, over UDP;
/// offer and answer carry an SDP and return rtpengine's rewritten one, whose m= port is where the other side sends.
/// </summary>
internal sealed class RtpEngineNg : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _control;
    private readonly byte[] _buffer = new byte[65536];
    private int _cookie;

    public RtpEngineNg(IPEndPoint control)
    {
        _control = control;
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.ReceiveTimeout = 2000;
    }

    public bool Ping()
    {
        try
        {
            return Call(Dict(("command", "ping"))).Contains("pong", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Offer (from A) and answer (from B) for one call; returns the ports A and B must send to.</summary>
    public (int PortForA, int PortForB) Connect(string callId, int phoneA, int phoneB)
    {
        var offer = Call(Dict(("command", "offer"), ("call-id", callId), ("from-tag", "a"), ("sdp", Sdp(phoneA))));
        var answer = Call(Dict(("command", "answer"), ("call-id", callId), ("from-tag", "a"), ("to-tag", "b"), ("sdp", Sdp(phoneB))));
        return (MediaPort(answer), MediaPort(offer));
    }

    public void Dispose() => _socket.Dispose();

    private static string Sdp(int port) =>
        $"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

    private static string Dict(params (string Key, string Value)[] entries)
    {
        // Keys of a bencoded dictionary are sorted; rtpengine does not insist, but the format does.
        var text = new StringBuilder("d");
        foreach (var (key, value) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"{Encoding.UTF8.GetByteCount(key)}:{key}{Encoding.UTF8.GetByteCount(value)}:{value}");
        }

        return text.Append('e').ToString();
    }

    private static int MediaPort(string reply)
    {
        var at = reply.IndexOf("m=audio ", StringComparison.Ordinal);
        if (at < 0 || !reply.Contains("2:ok", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"rtpengine refused: {reply[..Math.Min(reply.Length, 200)]}");
        }

        var start = at + "m=audio ".Length;
        var end = reply.IndexOf(' ', start);
        return int.Parse(reply.AsSpan(start, end - start), CultureInfo.InvariantCulture);
    }

    private string Call(string body)
    {
        var cookie = (++_cookie).ToString(CultureInfo.InvariantCulture);
        _socket.SendTo(Encoding.UTF8.GetBytes(cookie + " " + body), _control);
        while (true)
        {
            var length = _socket.Receive(_buffer);
            var reply = Encoding.UTF8.GetString(_buffer, 0, length);
            if (reply.StartsWith(cookie + " ", StringComparison.Ordinal))
            {
                return reply[(cookie.Length + 1)..];
            }
        }
    }
}
