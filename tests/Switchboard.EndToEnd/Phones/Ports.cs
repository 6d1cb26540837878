using System.Net;
using System.Net.Sockets;

namespace Switchboard.EndToEnd.Phones;

/// <summary>Hands out blocks of loopback ports that are free for UDP and TCP, so phones of parallel tests never collide.</summary>
internal static class Ports
{
    private static int _next = 21000 + Environment.ProcessId % 200 * 50;

    /// <summary>A block of <paramref name="count"/> consecutive ports, all free for UDP and TCP right now.</summary>
    public static int Block(int count)
    {
        while (true)
        {
            int start = Interlocked.Add(ref _next, count) - count;
            if (start + count > 60000) Interlocked.Exchange(ref _next, 21000);
            bool free = true;
            for (int p = start; p < start + count && free; p++) free = IsFree(p);
            if (free) return start;
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var u = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(new IPEndPoint(IPAddress.Loopback, port));
            using var t = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            t.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
