using System.Globalization;
using System.Net;
using Xunit;

namespace Switchboard.Testing.Topology;

/// <summary>
/// One place of a topology where a phone can run: its network namespace and address, and the address at which it
/// reaches the server on the host (the host's end of its link). Behind the NAT router, <see cref="PublicAddress"/> is
/// the router's outside address, the one the server sees packets come from.
/// </summary>
public sealed record Site(string Name, string Namespace, string Address, string ServerAddress, string? PublicAddress = null)
{
    /// <summary>Set for a site behind NAT: forwards one TCP port of the router's outside address to the site.</summary>
    internal Func<int, string>? ForwardTcp { get; init; }

    public Phones.PhoneHost Host => new(Address, Namespace, ForwardTcp);
}

/// <summary>Why a topology could not be built here (not root, no CAP_NET_ADMIN, tools missing).</summary>
public sealed class TopologyUnavailableException(string reason) : Exception(reason);

/// <summary>
/// A real network around the server, built from Linux network namespaces and veth pairs: LAN A and LAN B on two
/// subnets routed by the host (where the server runs, listening on 0.0.0.0), and a NAT router namespace doing
/// iptables MASQUERADE with a "home" namespace behind it on 192.168.x. Each instance has its own names (prefix
/// <c>sbt</c>, the process id, an instance counter) and its own 10.x.0.0/16 that the host routes nowhere else, so
/// test classes and concurrent test runs never collide. Dispose tears it all down; leftovers of killed runs are
/// removed when the next run builds its first topology.
/// </summary>
/// <remarks>
/// <code>
///   LAN A ns  10.N.1.2 ── 10.N.1.1 ┐
///   LAN B ns  10.N.2.2 ── 10.N.2.1 ├ host (server on 0.0.0.0, ip_forward=1)
///   NAT ns    10.N.3.2 ── 10.N.3.1 ┘
///     └ 192.168.N.1 ── 192.168.N.2  home ns (MASQUERADE out of 10.N.3.2)
/// </code>
/// </remarks>
public sealed class NetworkTopology : IDisposable
{
    internal const string Prefix = "sbt";
    private static int _instances = -1;
    private static bool _cleanedStale;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _hostLinks = [];
    private readonly List<string[]> _forwardRules = [];
    private bool _forwardingHeld;

    private NetworkTopology(string id, int net)
    {
        Id = id;
        Net = net;
        LanA = new Site("LAN A", id + "a", $"10.{net}.1.2", $"10.{net}.1.1");
        LanB = new Site("LAN B", id + "b", $"10.{net}.2.2", $"10.{net}.2.1");
        Router = new Site("NAT router", id + "n", $"10.{net}.3.2", $"10.{net}.3.1");
        Home = new Site("home (behind NAT)", id + "h", $"192.168.{net}.2", $"10.{net}.3.1", PublicAddress: $"10.{net}.3.2") { ForwardTcp = ForwardToHome };
    }

    /// <summary>
    /// The test drives a phone behind the NAT through its ctrl_tcp port, which the host cannot reach (and must not: a
    /// route to 192.168.x would hide every NAT bug). So that one TCP port is forwarded on the router, as a home router
    /// forwards a port; SIP and RTP (UDP) still see only the MASQUERADE mapping.
    /// </summary>
    private string ForwardToHome(int port)
    {
        var p = port.ToString(CultureInfo.InvariantCulture);
        Command.InNamespace(Router.Namespace, "iptables", "-t", "nat", "-A", "PREROUTING", "-i", Id + "n1", "-p", "tcp", "--dport", p,
            "-j", "DNAT", "--to-destination", Home.Address + ":" + p);
        return Router.Address;
    }

    /// <summary>The name prefix of everything this instance made (namespaces and links).</summary>
    public string Id { get; }

    /// <summary>The second octet of this instance's 10.x.0.0/16.</summary>
    public int Net { get; }

    public Site LanA { get; }

    public Site LanB { get; }

    /// <summary>The NAT router itself (its outside address faces the host).</summary>
    public Site Router { get; }

    public Site Home { get; }

    /// <summary>
    /// Builds a topology, or throws <see cref="TopologyUnavailableException"/> saying why it cannot be built here. Any
    /// other failure tears down what was made and is rethrown.
    /// </summary>
    public static NetworkTopology Create()
    {
        if (!Environment.IsPrivilegedProcess)
            throw new TopologyUnavailableException("network namespaces need root (or CAP_NET_ADMIN); this test process runs as " + Environment.UserName);
        foreach (var tool in new[] { "ip", "iptables", "sysctl" })
            if (Command.Run(tool, "-V").Code == -1 && Command.Run(tool, "--version").Code == -1)
                throw new TopologyUnavailableException($"{tool} is not installed (Debian packages iproute2, iptables, procps)");

        int n = Interlocked.Increment(ref _instances) % 36;
        var id = Prefix + Base36(Environment.ProcessId, 5) + Base36(n, 1);
        using var hostLock = HostLock.Take();
        if (!_cleanedStale)
        {
            RemoveStale();
            _cleanedStale = true;
        }
        var topology = new NetworkTopology(id, FreeNet(n));
        try
        {
            topology.Build();
            return topology;
        }
        catch
        {
            topology.TearDown();
            throw;
        }
    }

    /// <summary>
    /// Turns a topology that cannot be built into the test's outcome: a failure with the reason when CI=true (CI must
    /// run these tests), a skip with the reason elsewhere.
    /// </summary>
    public static void SkipOrFail(string reason)
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail("the network topology cannot be built, and CI=true requires it: " + reason);
        throw new SkipException("the network topology cannot be built here: " + reason);
    }

    private void Build()
    {
        var (code, output) = Command.Run("ip", "netns", "add", LanA.Namespace);
        if (code != 0) throw new TopologyUnavailableException("ip netns add failed (needs root or CAP_NET_ADMIN): " + output.Trim());
        _namespaces.Add(LanA.Namespace);
        foreach (var ns in new[] { LanB.Namespace, Router.Namespace, Home.Namespace })
        {
            Command.Must("ip", "netns", "add", ns);
            _namespaces.Add(ns);
        }
        foreach (var ns in _namespaces) Command.InNamespace(ns, "ip", "link", "set", "lo", "up");

        // The host routes between its links: forwarding on (counted across test runs, restored by the last one).
        HostForwarding.Acquire();
        _forwardingHeld = true;
        if (!Command.Must("iptables", "-S", "FORWARD").Contains("-P FORWARD ACCEPT", StringComparison.Ordinal))
        {
            // A host firewall that drops forwarded packets (Docker sets this) would cut the LANs off from each other.
            foreach (var dir in new[] { "-i", "-o" })
            {
                var rule = new[] { "FORWARD", dir, Id + "+", "-j", "ACCEPT", "-m", "comment", "--comment", Id };
                Command.Must("iptables", ["-I", .. rule]);
                _forwardRules.Add(rule);
            }
        }

        HostLink(LanA, "a");
        HostLink(LanB, "b");
        HostLink(Router, "n");

        // The NAT router: forwards, and masquerades everything leaving through its outside link.
        Command.InNamespace(Router.Namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        Command.InNamespace(Router.Namespace, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", Id + "n1", "-j", "MASQUERADE");
        Command.Must("ip", "link", "add", Id + "h0", "netns", Router.Namespace, "type", "veth", "peer", "name", Id + "h1", "netns", Home.Namespace);
        Command.InNamespace(Router.Namespace, "ip", "addr", "add", $"192.168.{Net}.1/24", "dev", Id + "h0");
        Command.InNamespace(Router.Namespace, "ip", "link", "set", Id + "h0", "up");
        Command.InNamespace(Home.Namespace, "ip", "addr", "add", Home.Address + "/24", "dev", Id + "h1");
        Command.InNamespace(Home.Namespace, "ip", "link", "set", Id + "h1", "up");
        Command.InNamespace(Home.Namespace, "ip", "route", "add", "default", "via", $"192.168.{Net}.1");
    }

    /// <summary>A veth pair from the host into the site's namespace; the host's end is the site's gateway.</summary>
    private void HostLink(Site site, string role)
    {
        string outside = Id + role + "0", inside = Id + role + "1";
        Command.Must("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", site.Namespace);
        _hostLinks.Add(outside);
        Command.Must("ip", "addr", "add", site.ServerAddress + "/24", "dev", outside);
        Command.Must("ip", "link", "set", outside, "up");
        Command.InNamespace(site.Namespace, "ip", "addr", "add", site.Address + "/24", "dev", inside);
        Command.InNamespace(site.Namespace, "ip", "link", "set", inside, "up");
        Command.InNamespace(site.Namespace, "ip", "route", "add", "default", "via", site.ServerAddress);
    }

    public void Dispose()
    {
        using var hostLock = HostLock.Take();
        TearDown();
    }

    private void TearDown()
    {
        foreach (var ns in _namespaces) KillProcessesIn(ns);
        foreach (var rule in _forwardRules) Command.Run("iptables", ["-D", .. rule]);
        _forwardRules.Clear();
        // Deleting a namespace frees its end of a veth pair only later; the host's end goes now, so the addresses
        // are free for the next topology at once.
        foreach (var link in _hostLinks) Command.Run("ip", "link", "del", link);
        _hostLinks.Clear();
        foreach (var ns in Enumerable.Reverse(_namespaces)) Command.Run("ip", "netns", "del", ns);
        _namespaces.Clear();
        if (_forwardingHeld) HostForwarding.Release();
        _forwardingHeld = false;
    }

    private static void KillProcessesIn(string ns)
    {
        var (code, output) = Command.Run("ip", "netns", "pids", ns);
        if (code != 0) return;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
                p.Kill(entireProcessTree: true);
                p.WaitForExit(2000);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    /// <summary>
    /// Removes namespaces, host links and firewall rules of topologies whose test process is gone (killed runs) or had
    /// this process's id before.
    /// </summary>
    private static void RemoveStale()
    {
        var (_, namespaces) = Command.Run("ip", "netns", "list");
        foreach (var line in namespaces.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!IsStale(name)) continue;
            KillProcessesIn(name);
            Command.Run("ip", "netns", "del", name);
        }
        var (_, links) = Command.Run("ip", "-o", "link", "show");
        foreach (var line in links.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length < 2) continue;
            var name = parts[1].Trim().Split('@')[0];
            if (IsStale(name)) Command.Run("ip", "link", "del", name);
        }
        var (_, rules) = Command.Run("iptables", "-S", "FORWARD");
        foreach (var line in rules.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var words = line.Split(' ');
            int c = Array.IndexOf(words, "--comment");
            if (words[0] == "-A" && c > 0 && c + 1 < words.Length && IsStale(words[c + 1].Trim('"')))
                Command.Run("iptables", ["-D", .. words[1..].Select(w => w.Trim('"'))]);
        }
        HostForwarding.Prune();
    }

    private static bool IsStale(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || name.Length < Prefix.Length + 6) return false;
        var pid = FromBase36(name.AsSpan(Prefix.Length, 5));
        return pid is not null && (pid == Environment.ProcessId || !Directory.Exists($"/proc/{pid}"));
    }

    /// <summary>
    /// A 10.x.0.0/16 for this instance that overlaps no address or route of the host (default routes aside), in
    /// 10.160–10.223; the host lock is held, so a concurrent run sees the links of this one once it looks.
    /// </summary>
    private static int FreeNet(int instance)
    {
        var used = HostPrefixes();
        int start = (Environment.ProcessId * 7 + instance) % 64;
        for (int i = 0; i < 64; i++)
        {
            int net = 160 + (start + i) % 64;
            var candidate = (IPAddress.Parse($"10.{net}.0.0"), 16);
            if (!used.Any(u => Overlaps(u, candidate))) return net;
        }
        throw new TopologyUnavailableException("every 10.160.0.0/16 … 10.223.0.0/16 is in use on this host");
    }

    private static List<(IPAddress Address, int Length)> HostPrefixes()
    {
        var result = new List<(IPAddress, int)>();
        string[] types = ["local", "broadcast", "unicast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat"];
        foreach (var line in Command.Must("ip", "-4", "route", "show", "table", "all").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var dest = types.Contains(words[0]) && words.Length > 1 ? words[1] : words[0];
            if (dest != "default" && IPNetwork.TryParse(dest.Contains('/') ? dest : dest + "/32", out var net))
                result.Add((net.BaseAddress, net.PrefixLength));
        }
        foreach (var line in Command.Must("ip", "-4", "-o", "addr", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int i = Array.IndexOf(words, "inet");
            // An interface address has host bits set ("192.0.2.2/24"), which IPNetwork.TryParse refuses.
            var slash = i >= 0 && i + 1 < words.Length ? words[i + 1].Split('/') : [];
            if (slash.Length == 2 && IPAddress.TryParse(slash[0], out var address) &&
                int.TryParse(slash[1], NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length <= 32)
                result.Add((address, length));
        }
        return result;
    }

    private static bool Overlaps((IPAddress Address, int Length) a, (IPAddress Address, int Length) b)
    {
        int len = Math.Min(a.Length, b.Length);
        uint mask = len == 0 ? 0 : uint.MaxValue << (32 - len);
        return (ToUInt(a.Address) & mask) == (ToUInt(b.Address) & mask);

        static uint ToUInt(IPAddress ip)
        {
            var bytes = ip.GetAddressBytes();
            return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
        }
    }

    private static string Base36(int value, int width)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var chars = new char[width];
        for (int i = width - 1; i >= 0; i--)
        {
            chars[i] = digits[value % 36];
            value /= 36;
        }
        return new string(chars);
    }

    private static int? FromBase36(ReadOnlySpan<char> s)
    {
        int value = 0;
        foreach (var c in s)
        {
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : -1;
            if (d < 0) return null;
            value = value * 36 + d;
        }
        return value;
    }
}
