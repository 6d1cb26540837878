namespace Switchboard.Interface.DialFiles;

/// <summary>
/// Tells whether a local process still holds a file open for writing, by reading /proc (Linux). Writers on other
/// machines of a network share are invisible here; for them the settle time is the only guard.
/// </summary>
internal static class OpenFileProbe
{
    private const int WriteAccessMask = 0b11; // O_WRONLY = 1, O_RDWR = 2

    public static bool IsOpenForWriting(string path)
    {
        if (!OperatingSystem.IsLinux() || !System.IO.Directory.Exists("/proc")) return false;
        var full = Path.GetFullPath(path);
        IEnumerable<string> procs;
        try
        {
            procs = System.IO.Directory.EnumerateDirectories("/proc");
        }
        catch (IOException)
        {
            return false;
        }
        foreach (var proc in procs)
        {
            var name = Path.GetFileName(proc);
            // The server's own process is checked too: it never holds a dial file open itself, but a writer hosted in
            // the same process (an embedding application, a test) must be waited for like any other.
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            try
            {
                foreach (var fd in System.IO.Directory.EnumerateFileSystemEntries(Path.Combine(proc, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target != full) continue;
                    if (WritesTo(Path.Combine(proc, "fdinfo", Path.GetFileName(fd)))) return true;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Processes come and go, and some are not ours to look at.
            }
        }
        return false;
    }

    private static bool WritesTo(string fdinfo)
    {
        foreach (var line in File.ReadLines(fdinfo))
        {
            if (!line.StartsWith("flags:", StringComparison.Ordinal)) continue;
            var octal = line["flags:".Length..].Trim();
            int flags = 0;
            foreach (var c in octal) flags = flags * 8 + (c - '0');
            return (flags & WriteAccessMask) != 0;
        }
        return true;
    }
}
