namespace Switchboard.Testing.Topology;

/// <summary>
/// Serialises building and tearing down topologies across threads and test processes on this host, so that two runs
/// never choose the same subnet and the ip_forward count stays right. Across processes it is an flock on a file
/// under /run (which .NET takes for FileShare.None); the kernel drops it when a killed process exits.
/// </summary>
internal sealed class HostLock : IDisposable
{
    internal const string Directory = "/run/switchboard-tests";
    private static readonly SemaphoreSlim InProcess = new(1, 1);
    private readonly FileStream _file;

    private HostLock(FileStream file) => _file = file;

    public static HostLock Take()
    {
        InProcess.Wait();
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    return new HostLock(new FileStream(Path.Combine(Directory, "topology.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(100);
                }
            }
        }
        catch
        {
            InProcess.Release();
            throw;
        }
    }

    public void Dispose()
    {
        _file.Dispose();
        InProcess.Release();
    }
}

/// <summary>
/// net.ipv4.ip_forward on the host, shared by every topology of every test process: the first user saves the value it
/// found, each holder is a file named by its pid, and the last one to leave (or the next run, after a killed one)
/// writes the saved value back. Called with the <see cref="HostLock"/> held.
/// </summary>
internal static class HostForwarding
{
    private const string Sysctl = "/proc/sys/net/ipv4/ip_forward";
    private static readonly string Saved = Path.Combine(HostLock.Directory, "ip_forward.saved");
    private static readonly string Holders = Path.Combine(HostLock.Directory, "ip_forward.holders");
    private static int _held;

    public static void Acquire()
    {
        Directory.CreateDirectory(Holders);
        if (!File.Exists(Saved)) File.WriteAllText(Saved, File.ReadAllText(Sysctl).Trim());
        if (_held++ == 0) File.WriteAllText(Path.Combine(Holders, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)), "");
        File.WriteAllText(Sysctl, "1");
    }

    public static void Release()
    {
        if (--_held == 0) File.Delete(Path.Combine(Holders, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        RestoreIfUnused();
    }

    /// <summary>Forgets holders whose process is gone, and restores the saved value if no one holds it any more.</summary>
    public static void Prune()
    {
        if (!Directory.Exists(Holders)) return;
        foreach (var file in Directory.GetFiles(Holders))
        {
            var name = Path.GetFileName(file);
            bool mine = name == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if ((mine && _held == 0) || (!mine && !Directory.Exists("/proc/" + name))) File.Delete(file);
        }
        RestoreIfUnused();
    }

    private static void RestoreIfUnused()
    {
        if (!File.Exists(Saved) || (Directory.Exists(Holders) && Directory.GetFiles(Holders).Length > 0)) return;
        File.WriteAllText(Sysctl, File.ReadAllText(Saved).Trim());
        File.Delete(Saved);
    }
}
