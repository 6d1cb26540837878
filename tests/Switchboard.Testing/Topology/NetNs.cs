using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Testing.Topology;

/// <summary>
/// A real "other host" for a test: a Linux network namespace joined to this host by a veth pair on its own /24
/// (host .1, namespace .2), so the switch on 0.0.0.0 sees a peer that is not on its loopback. One link, where
/// <see cref="NetworkTopology"/> builds whole sites; both run the tools through <see cref="Command"/>. Names and subnets are
/// random per instance, so test classes run in parallel; everything is deleted on dispose. Needs root and ip(8);
/// without them the test fails with the reason (xunit 2 has no runtime skip).
/// </summary>
public sealed class NetNs : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly string _hostVeth;

    private NetNs(string name, string hostVeth, IPAddress host, IPAddress peer)
    {
        Name = name;
        _hostVeth = hostVeth;
        HostAddress = host;
        PeerAddress = peer;
    }

    /// <summary>The namespace's name.</summary>
    public string Name { get; }

    /// <summary>This host's address on the link (what the switch must write towards the namespace).</summary>
    public IPAddress HostAddress { get; }

    /// <summary>The namespace's address.</summary>
    public IPAddress PeerAddress { get; }

    public static NetNs Create()
    {
        if (Environment.UserName != "root" && !File.Exists("/proc/self/ns/net"))
            throw new InvalidOperationException("network namespace tests need root and ip(8) (CI runs as root)");
        var routes = Run("ip", "-4", "route", "show");
        for (int attempt = 0; ; attempt++)
        {
            var tag = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
            int b = 160 + System.Security.Cryptography.RandomNumberGenerator.GetInt32(60), c = System.Security.Cryptography.RandomNumberGenerator.GetInt32(256);
            var subnet = $"10.{b}.{c}";
            if (routes.Contains(subnet + ".", StringComparison.Ordinal) && attempt < 20) continue;
            var ns = new NetNs("sbnet" + tag, "sbv" + tag, IPAddress.Parse(subnet + ".1"), IPAddress.Parse(subnet + ".2"));
            try
            {
                var peerVeth = "sbp" + tag;
                Run("ip", "netns", "add", ns.Name);
                Run("ip", "link", "add", ns._hostVeth, "type", "veth", "peer", "name", peerVeth);
                Run("ip", "link", "set", peerVeth, "netns", ns.Name);
                Run("ip", "addr", "add", subnet + ".1/24", "dev", ns._hostVeth);
                Run("ip", "link", "set", ns._hostVeth, "up");
                Run("ip", "netns", "exec", ns.Name, "ip", "addr", "add", subnet + ".2/24", "dev", peerVeth);
                Run("ip", "netns", "exec", ns.Name, "ip", "link", "set", peerVeth, "up");
                Run("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
                WaitUntilUp(ns._hostVeth);
                return ns;
            }
            catch
            {
                ns.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Waits until the kernel reports the host side of the veth pair up: its carrier follows the peer's "up" a moment
    /// later, and on a loaded machine that moment is long enough for an interface list read meanwhile (the switch's
    /// connected subnets) to leave the new link out.
    /// </summary>
    private static void WaitUntilUp(string device)
    {
        var state = Path.Combine("/sys/class/net", device, "operstate");
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10); Thread.Sleep(10))
            if (File.Exists(state) && File.ReadAllText(state).Trim() == "up") return;
        throw new InvalidOperationException($"{device} did not come up: operstate {(File.Exists(state) ? File.ReadAllText(state).Trim() : "missing")}");
    }

    /// <summary>The namespace side's interface name.</summary>
    public string PeerVeth => "sbp" + _hostVeth[3..];

    /// <summary>A UDP socket bound inside the namespace (the socket keeps its namespace on any thread afterwards).</summary>
    public Socket UdpSocket(int port = 0) => UdpSocketIn(Name, PeerAddress, port);

    /// <summary>A UDP socket bound to <paramref name="address"/> inside namespace <paramref name="name"/>.</summary>
    internal static Socket UdpSocketIn(string name, IPAddress address, int port = 0)
    {
        Socket? socket = null;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var own = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle("/var/run/netns/" + name);
                if (setns((int)target.DangerousGetHandle(), CloneNewNet) != 0) throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                try
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    socket.Bind(new IPEndPoint(address, port));
                }
                finally
                {
                    setns((int)own.DangerousGetHandle(), CloneNewNet);
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        t.Start();
        t.Join();
        if (error is not null) throw new InvalidOperationException("cannot open a socket in namespace " + name, error);
        return socket!;
    }

    public void Dispose()
    {
        TryRun("ip", "netns", "del", Name);
        TryRun("ip", "link", "del", _hostVeth);
    }

    /// <summary>Runs a tool; fails with its command line and output (namespace tests need root).</summary>
    internal static string Run(string file, params string[] args) => Command.Must(file, args);

    /// <summary>Runs a tool during clean-up, where a failure (already gone) is not an error.</summary>
    internal static void TryRun(string file, params string[] args) => Command.Run(file, args);

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the test project for one int call
    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
#pragma warning restore SYSLIB1054
}

/// <summary>
/// A phone's home network behind a NAT router: namespace <see cref="Router"/> is linked to this host (as <see cref="NetNs"/>)
/// and masquerades (iptables MASQUERADE) a home namespace on 192.168.x.0/24 that this host has no route to.
/// </summary>
public sealed class NatNs : IDisposable
{
    private readonly string _home;

    private NatNs(NetNs router, string home, IPAddress homeAddress)
    {
        Router = router;
        _home = home;
        HomeAddress = homeAddress;
    }

    public NetNs Router { get; }

    /// <summary>The phone's private address.</summary>
    public IPAddress HomeAddress { get; }

    public static NatNs Create()
    {
        var router = NetNs.Create();
        var tag = router.Name[5..];
        var home = "sbhome" + tag;
        int c = System.Security.Cryptography.RandomNumberGenerator.GetInt32(256);
        var nat = new NatNs(router, home, IPAddress.Parse($"192.168.{c}.2"));
        try
        {
            NetNs.Run("ip", "netns", "add", home);
            NetNs.Run("ip", "link", "add", "sbh" + tag, "type", "veth", "peer", "name", "sbq" + tag);
            NetNs.Run("ip", "link", "set", "sbh" + tag, "netns", router.Name);
            NetNs.Run("ip", "link", "set", "sbq" + tag, "netns", home);
            NetNs.Run("ip", "netns", "exec", router.Name, "ip", "addr", "add", $"192.168.{c}.1/24", "dev", "sbh" + tag);
            NetNs.Run("ip", "netns", "exec", router.Name, "ip", "link", "set", "sbh" + tag, "up");
            NetNs.Run("ip", "netns", "exec", home, "ip", "addr", "add", $"192.168.{c}.2/24", "dev", "sbq" + tag);
            NetNs.Run("ip", "netns", "exec", home, "ip", "link", "set", "sbq" + tag, "up");
            NetNs.Run("ip", "netns", "exec", home, "ip", "link", "set", "lo", "up");
            NetNs.Run("ip", "netns", "exec", home, "ip", "route", "add", "default", "via", $"192.168.{c}.1");
            NetNs.Run("ip", "netns", "exec", router.Name, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            NetNs.Run("ip", "netns", "exec", router.Name, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", router.PeerVeth, "-j", "MASQUERADE");
            return nat;
        }
        catch
        {
            nat.Dispose();
            throw;
        }
    }

    /// <summary>A UDP socket of the phone at home.</summary>
    public Socket PhoneSocket() => NetNs.UdpSocketIn(_home, HomeAddress);

    /// <summary>The router stops forwarding (its NAT mapping is gone for good, as after a router reboot).</summary>
    public void DropEverything() => NetNs.Run("ip", "netns", "exec", Router.Name, "iptables", "-I", "FORWARD", "-j", "DROP");

    public void Dispose()
    {
        NetNs.TryRun("ip", "netns", "del", _home);
        Router.Dispose();
    }
}
