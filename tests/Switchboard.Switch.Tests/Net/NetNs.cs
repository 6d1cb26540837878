using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Switch.Tests.Net;

/// <summary>
/// A real "other host" for a test: a Linux network namespace joined to this host by a veth pair on its own /24
/// (host .1, namespace .2), so the switch on 0.0.0.0 sees a peer that is not on its loopback. Names and subnets are
/// random per instance, so test classes run in parallel; everything is deleted on dispose. Needs root and ip(8);
/// without them the test fails with the reason (xunit 2 has no runtime skip).
/// </summary>
internal sealed class NetNs : IDisposable
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
                return ns;
            }
            catch
            {
                ns.Dispose();
                throw;
            }
        }
    }

    /// <summary>A UDP socket bound inside the namespace (the socket keeps its namespace on any thread afterwards).</summary>
    public Socket UdpSocket(int port = 0)
    {
        Socket? socket = null;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var own = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle("/var/run/netns/" + Name);
                if (setns((int)target.DangerousGetHandle(), CloneNewNet) != 0) throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                try
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    socket.Bind(new IPEndPoint(PeerAddress, port));
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
        if (error is not null) throw new InvalidOperationException("cannot open a socket in namespace " + Name, error);
        return socket!;
    }

    public void Dispose()
    {
        TryRun("ip", "netns", "del", Name);
        TryRun("ip", "link", "del", _hostVeth);
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {err.Trim()} (network namespace tests need root)");
        return output;
    }

    private static void TryRun(string file, params string[] args)
    {
        try
        {
            Run(file, args);
        }
        catch (InvalidOperationException)
        {
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the test project for one int call
    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
#pragma warning restore SYSLIB1054
}
