using System.Diagnostics;
using Switchboard.Interface.DialFiles;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>
/// Dial files from a directory others can write to (issue 11 finding 7): only regular files are read, through a handle
/// opened with O_NOFOLLOW; links, FIFOs and devices are refused unread; failed/ is owner-only; names are escaped in the log.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
// One test here measures what the whole process allocates (a file not read into memory), which tests running beside it
// would blur: the class runs alone.
[Collection(nameof(MemoryMeasurement))]
public sealed class DialFileHostileTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static Task<TestServer> StartAsync(ListLogger<DialFileWatcher> log) => TestServer.StartAsync(c =>
    {
        c.DialFiles = ServerConfig.FastDialFiles();
        c.DialFileLog = log;
    });

    private static Task Gone(TestServer server, string name) => Poll.UntilAsync(
        () => !Path.Exists(Path.Combine(server.DialDir, name)) && !Path.Exists(Path.Combine(server.DialDir, "processing", name)),
        $"dial entry {name} to be taken");

    private static string AllFailedContent(TestServer server) =>
        string.Concat(Directory.EnumerateFiles(server.DialFiles!.FailedPath).Select(f => new FileInfo(f).LinkTarget is null ? File.ReadAllText(f) : "LINK " + f));

    private static async Task RunAsync(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {await p.StandardError.ReadToEndAsync()}");
    }

    [Fact]
    public async Task A_symlink_to_etc_passwd_is_refused_and_nothing_of_the_target_reaches_failed_or_the_log()
    {
        var log = new ListLogger<DialFileWatcher>();
        await using var server = await StartAsync(log);
        File.CreateSymbolicLink(Path.Combine(server.DialDir, "passwd.CTI"), "/etc/passwd");
        await Gone(server, "passwd.CTI");
        var refusal = Path.Combine(server.DialFiles!.FailedPath, "passwd.CTI.log");
        await Poll.UntilAsync(() => File.Exists(refusal), "the refusal in failed/");
        await Poll.UntilAsync(() => log.Text.Contains("passwd.CTI refused: it is a symbolic link", StringComparison.Ordinal), "the refusal in the log");

        Assert.StartsWith("403 refused: a symbolic link", await File.ReadAllTextAsync(refusal));
        Assert.False(Path.Exists(Path.Combine(server.DialFiles.FailedPath, "passwd.CTI")), "the link itself must not land in failed/");
        Assert.True(File.Exists("/etc/passwd"), "unlinking the link must leave its target alone");
        var passwd = await File.ReadAllTextAsync("/etc/passwd");
        Assert.Contains("root:", passwd);
        Assert.DoesNotContain("root:", AllFailedContent(server));
        Assert.DoesNotContain("root:", log.Text);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(refusal));
    }

    [Fact]
    public async Task A_symlink_to_dev_zero_and_a_device_node_are_refused_without_reading()
    {
        var log = new ListLogger<DialFileWatcher>();
        await using var server = await StartAsync(log);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        File.CreateSymbolicLink(Path.Combine(server.DialDir, "zero.CTI"), "/dev/zero");
        await RunAsync("mknod", Path.Combine(server.DialDir, "null-device.CTI"), "c", "1", "3");
        await Gone(server, "zero.CTI");
        await Gone(server, "null-device.CTI");
        await Poll.UntilAsync(() => File.Exists(Path.Combine(server.DialFiles!.FailedPath, "null-device.CTI.log")), "the device refusal");
        await Poll.UntilAsync(() => File.Exists(Path.Combine(server.DialFiles!.FailedPath, "zero.CTI.log")), "the link refusal");

        Assert.StartsWith("403 refused: a symbolic link", await File.ReadAllTextAsync(Path.Combine(server.DialFiles!.FailedPath, "zero.CTI.log")));
        Assert.StartsWith("403 refused: a device", await File.ReadAllTextAsync(Path.Combine(server.DialFiles.FailedPath, "null-device.CTI.log")));
        // Before, the link's own size (9 bytes) passed the size check and ReadAllText ran into /dev/zero until OOM.
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 256L * 1024 * 1024, "reading a dial file allocated hundreds of MB");
        Assert.Equal(0, server.DialFiles.FilesProcessed);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_blocking_the_watcher()
    {
        var log = new ListLogger<DialFileWatcher>();
        await using var server = await StartAsync(log);
        await RunAsync("mkfifo", Path.Combine(server.DialDir, "a-pipe.CTI"));
        // Sorted after the FIFO: it runs only if the scan got past the FIFO without waiting for a writer.
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "z-next.CTI"), "Forward 104 *\n");
        await Gone(server, "z-next.CTI");
        Assert.Contains("; dnd;", await server.StatusAsync("104"));
        await Gone(server, "a-pipe.CTI");
        await Poll.UntilAsync(() => File.Exists(Path.Combine(server.DialFiles!.FailedPath, "a-pipe.CTI.log")), "the FIFO refusal");
        Assert.StartsWith("403 refused: a named pipe", await File.ReadAllTextAsync(Path.Combine(server.DialFiles!.FailedPath, "a-pipe.CTI.log")));
    }

    [Fact]
    public async Task Failed_files_and_their_logs_are_owner_only()
    {
        var log = new ListLogger<DialFileWatcher>();
        await using var server = await StartAsync(log);
        var path = Path.Combine(server.DialDir, "bad.CTI");
        await File.WriteAllTextAsync(path, "Bogus 1\n");
        File.SetUnixFileMode(path, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var failed = Path.Combine(server.DialFiles!.FailedPath, "bad.CTI");
        await Poll.UntilAsync(() => File.Exists(failed + ".log"), "the log in failed/");
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(failed));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(failed + ".log"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DialFiles.FailedPath));
    }

    [Fact]
    public async Task Control_characters_in_a_file_name_are_escaped_in_the_log()
    {
        var log = new ListLogger<DialFileWatcher>();
        await using var server = await StartAsync(log);
        var name = "evil\u001b[2J\rINFO forged line\n.CTI";
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, name), "Bogus 1\n");
        await Poll.UntilAsync(() => log.Text.Contains("had failing lines", StringComparison.Ordinal), "the failure in the log");
        var line = log.Lines.Single(l => l.Contains("had failing lines", StringComparison.Ordinal));
        Assert.Contains(@"evil\x1B[2J\x0DINFO forged line\x0A.CTI", line);
        Assert.DoesNotContain('\u001b', log.Text);
        Assert.DoesNotContain('\r', log.Text);
        Assert.DoesNotContain('\n', string.Concat(log.Lines));
    }

    [Fact]
    public async Task A_link_planted_as_failed_is_not_followed()
    {
        var log = new ListLogger<DialFileWatcher>();
        var elsewhere = Directory.CreateTempSubdirectory("sb-elsewhere-").FullName;
        try
        {
            await using var server = await TestServer.StartAsync(c =>
            {
                c.DialFiles = ServerConfig.FastDialFiles();
                c.DialFileLog = log;
                c.BeforeStart = dir =>
                {
                    Directory.CreateDirectory(Path.Combine(dir, "dial"));
                    Directory.CreateSymbolicLink(Path.Combine(dir, "dial", "failed"), elsewhere);
                };
            });
            await File.WriteAllTextAsync(Path.Combine(server.DialDir, "bad.CTI"), "Bogus 1\n");
            await Poll.UntilAsync(() => log.Text.Contains("is not a directory of the server's own", StringComparison.Ordinal), "the planted link to be reported");
            Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }
}
