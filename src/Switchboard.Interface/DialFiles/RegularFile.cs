using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Switchboard.Interface.DialFiles;

/// <summary>Why a path dropped into a watched directory is not read.</summary>
public enum FileRefusal
{
    /// <summary>Nothing wrong: a regular file, opened.</summary>
    None,
    /// <summary>The entry is a symbolic link (it could point at /etc/passwd or /dev/zero).</summary>
    SymbolicLink,
    /// <summary>A named pipe: reading it would block until some writer came.</summary>
    Fifo,
    /// <summary>A character or block device (reading /dev/zero never ends).</summary>
    Device,
    /// <summary>A directory, socket or other kind of entry that is not a regular file.</summary>
    NotRegular,
    /// <summary>The entry went away between listing and opening.</summary>
    Gone,
}

/// <summary>
/// Opens files from directories that other users can write to without trusting the name: the open itself refuses
/// symbolic links (O_NOFOLLOW) and never waits for a FIFO writer (O_NONBLOCK), and type, size and time come from
/// fstat on the opened handle, so what is checked is exactly what is read (no window between a check and the open).
/// </summary>
internal static partial class RegularFile
{
    private const int ELOOP = 40;
    private const int ENOENT = 2;
    private const int SIfMt = 0xF000, SIfReg = 0x8000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfLnk = 0xA000;

    // The open flags and the struct stat layout are per architecture on Linux (asm-generic for arm64).
    private static readonly bool Arm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
    private static int ONonblock => 0x800;
    private static int ONofollow => Arm64 ? 0x8000 : 0x20000;
    private static int OCloexec => 0x80000;
    private static int ModeOffset => Arm64 ? 16 : 24;
    private const int SizeOffset = 48; // st_size: the same on x86_64 and arm64
    private const int MtimeOffset = 88; // st_mtim: the same on x86_64 and arm64

    /// <summary>What fstat said about an opened file.</summary>
    public readonly record struct Stat(long Length, long MtimeSeconds, long MtimeNanoseconds);

    /// <summary>
    /// Opens <paramref name="path"/> for reading. With <paramref name="followLinks"/> false a symbolic link is refused
    /// by the kernel; in every case only a regular file is returned, anything else is closed again.
    /// </summary>
    public static FileRefusal TryOpen(string path, bool followLinks, out SafeFileHandle? handle, out Stat stat)
    {
        handle = null;
        stat = default;
        if (!OperatingSystem.IsLinux()) return TryOpenPortable(path, followLinks, out handle, out stat);
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int flags = ONonblock | OCloexec | (followLinks ? 0 : ONofollow); // O_RDONLY is 0
        int fd = open(bytes, flags);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ELOOP) return FileRefusal.SymbolicLink;
            if (errno == ENOENT) return FileRefusal.Gone;
            throw new IOException($"cannot open: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var h = new SafeFileHandle((IntPtr)fd, ownsHandle: true);
        var buffer = new StatBuffer();
        if (fstat(fd, ref buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            h.Dispose();
            throw new IOException($"cannot fstat: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        Span<byte> raw = MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref buffer[0], StatBuffer.Longs));
        int mode = BitConverter.ToInt32(raw[ModeOffset..]);
        var kind = (mode & SIfMt) switch
        {
            SIfReg => FileRefusal.None,
            SIfIfo => FileRefusal.Fifo,
            SIfChr or SIfBlk => FileRefusal.Device,
            SIfLnk => FileRefusal.SymbolicLink,
            _ => FileRefusal.NotRegular,
        };
        if (kind != FileRefusal.None)
        {
            h.Dispose();
            return kind;
        }
        stat = new Stat(BitConverter.ToInt64(raw[SizeOffset..]), BitConverter.ToInt64(raw[MtimeOffset..]), BitConverter.ToInt64(raw[(MtimeOffset + 8)..]));
        handle = h;
        return FileRefusal.None;
    }

    /// <summary>Reads at most <paramref name="limit"/> bytes from the start of the open file; returns null when it holds more.</summary>
    public static byte[]? ReadAtMost(SafeFileHandle handle, long limit)
    {
        // The length fstat reported is only a hint: the file may grow after the check, so the read itself is bounded.
        var buffer = new byte[(int)Math.Min(limit + 1, Math.Max(RandomAccess.GetLength(handle), 0) + 1)];
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length > limit) return null;
                Array.Resize(ref buffer, (int)Math.Min(limit + 1, (long)buffer.Length * 2));
            }
            int n = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (n == 0) break;
            total += n;
        }
        if (total > limit) return null;
        return buffer.AsSpan(0, total).ToArray();
    }

    private static FileRefusal TryOpenPortable(string path, bool followLinks, out SafeFileHandle? handle, out Stat stat)
    {
        handle = null;
        stat = default;
        var info = new FileInfo(path);
        if (!info.Exists) return FileRefusal.Gone;
        if (!followLinks && info.LinkTarget is not null) return FileRefusal.SymbolicLink;
        handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var t = info.LastWriteTimeUtc - DateTime.UnixEpoch;
        stat = new Stat(RandomAccess.GetLength(handle), (long)t.TotalSeconds, t.Ticks % TimeSpan.TicksPerSecond * 100);
        return FileRefusal.None;
    }

    [InlineArray(Longs)]
    private struct StatBuffer
    {
        public const int Longs = 32; // 256 bytes: larger than struct stat on every Linux architecture .NET runs on
        private long _element;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int open(byte[] path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fstat(int fd, ref StatBuffer buffer);
}
