using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Switchboard.Storage;

/// <summary>
/// Which file a path names right now (device and inode, from stat): a database replaced by another file or deleted while
/// SQLite still holds the old one open shows up as a changed or missing identity.
/// </summary>
internal readonly partial record struct FileIdentity(ulong Device, ulong Inode)
{
    private const int ENOENT = 2;

    /// <summary>The identity of the file at <paramref name="path"/>, or null when nothing is there.</summary>
    public static FileIdentity? Of(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(path) ? new FileIdentity(0, 0) : null;
        var buffer = new StatBuffer();
        if (stat(Encoding.UTF8.GetBytes(path + "\0"), ref buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT) return null;
            throw new IOException($"cannot stat {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        // st_dev at 0 and st_ino at 8 on x86_64 and arm64 alike.
        return new FileIdentity((ulong)buffer[0], (ulong)buffer[1]);
    }

    [InlineArray(32)]
    private struct StatBuffer
    {
        private long _element; // 256 bytes: larger than struct stat on every Linux architecture .NET runs on
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int stat(byte[] path, ref StatBuffer buffer);
}
