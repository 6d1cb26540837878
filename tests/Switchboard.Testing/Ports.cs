using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Testing;

/// <summary>
/// Ports for the programs a test starts: single ports the system picks, and blocks of consecutive ports (baresip needs
/// SIP, TLS, ctrl and an RTP range) so that phones of test classes running in parallel never collide.
/// </summary>
public static class Ports
{
    private static int _next = 21000 + Environment.ProcessId % 200 * 50;

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A UDP port on loopback that is free right now (the system picks it), and never one handed out before in this
    /// process: a port a finished test's phone had may still get that test's retransmissions (a BYE, a 200), which a
    /// sipp phone of the next test would take as an unexpected message and fail its call.
    /// </summary>
    public static int FreeUdp()
    {
        while (true)
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)s.LocalEndPoint!).Port;
            lock (HandedOut)
            {
                if (HandedOut.Add(port)) return port;
            }
        }
    }

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

    /// <summary>
    /// Waits (up to 5 s) until some process has bound the UDP port, as /proc/net/udp of this network namespace shows.
    /// Probing by binding the port ourselves would race with the program's own bind and make it fail.
    /// </summary>
    public static void WaitUntilUdpBound(int port)
    {
        var needle = ":" + port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        for (int i = 0; i < 100; i++)
        {
            if (File.ReadLines("/proc/net/udp").Any(l => l.Contains(needle, StringComparison.Ordinal))) return;
            Thread.Sleep(50);
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
