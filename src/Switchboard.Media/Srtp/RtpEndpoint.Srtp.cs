using Microsoft.Extensions.Logging;
using Switchboard.Media.Srtp;

namespace Switchboard.Media;

/// <summary>SRTP on an endpoint: what it sends is protected with the switch's key, what it receives checked with the phone's.</summary>
public sealed partial class RtpEndpoint
{
    private volatile SrtpPair? _srtp;
    private long _srtpRejected;
    private long _srtcpReceived;

    /// <summary>True while the endpoint speaks SRTP.</summary>
    public bool IsSecure => _srtp is not null;

    /// <summary>Received packets that SRTP refused (bad tag, replayed, unparsable); none of them reached the call.</summary>
    public long SrtpRejected => Interlocked.Read(ref _srtpRejected);

    /// <summary>Authentic SRTCP packets received (multiplexed on the RTP port); read and dropped, the engine uses no RTCP.</summary>
    public long SrtcpReceived => Interlocked.Read(ref _srtcpReceived);

    /// <summary>
    /// Turns SRTP on with a context for each direction (<paramref name="send"/> under the switch's key,
    /// <paramref name="receive"/> under the phone's), or off with nulls. The endpoint owns and disposes the contexts.
    /// </summary>
    public void SetSrtp(SrtpContext? send, SrtpContext? receive)
    {
        if ((send is null) != (receive is null)) throw new ArgumentException("SRTP needs both directions or neither");
        var old = _srtp;
        _srtp = send is null ? null : new SrtpPair(send, receive!);
        // The old contexts may be in use on the receive loop or the clock right now; they are left to the collector
        // (their AES and HMAC objects hold no unmanaged state that must be freed promptly).
        _ = old;
    }

    private int Protect(SrtpPair srtp, int length)
    {
        lock (srtp.Send) return srtp.Send.ProtectRtp(_packet, length);
    }

    private bool Unprotect(SrtpPair srtp, ref Span<byte> datagram)
    {
        SrtpRejection rejection;
        // RTCP multiplexed on the RTP port (RFC 5761 §4): packet types 192–223 in the second byte are no RTP payload types.
        if (datagram.Length >= 2 && datagram[1] is >= 192 and <= 223)
        {
            lock (srtp.Receive) rejection = srtp.Receive.UnprotectRtcp(datagram, out _);
            if (rejection == SrtpRejection.None)
            {
                Interlocked.Increment(ref _srtcpReceived);
                return false;
            }
        }
        else
        {
            int plain;
            lock (srtp.Receive) rejection = srtp.Receive.UnprotectRtp(datagram, out plain);
            if (rejection == SrtpRejection.None)
            {
                datagram = datagram[..plain];
                return true;
            }
        }
        long n = Interlocked.Increment(ref _srtpRejected);
        // The first three, then the 10th, 100th … rejection: a flood of forgeries costs a handful of lines, and the count still shows its size.
        if (n <= 3 || IsPowerOfTen(n)) SrtpLog.Rejected(_logger, LocalEndPoint, rejection, n);
        return false;
    }

    private static bool IsPowerOfTen(long n)
    {
        while (n >= 10 && n % 10 == 0) n /= 10;
        return n == 1;
    }

    private sealed record SrtpPair(SrtpContext Send, SrtpContext Receive);
}

/// <summary>SRTP log lines (event IDs 4011–4029).</summary>
internal static partial class SrtpLog
{
    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "SRTP on {Local}: packet rejected ({Reason}); {Count} rejected so far on this endpoint (logged for the first 3, then at each power of ten)")]
    public static partial void Rejected(ILogger logger, System.Net.IPEndPoint local, SrtpRejection reason, long count);
}
