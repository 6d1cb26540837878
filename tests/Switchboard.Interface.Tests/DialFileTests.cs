using Switchboard.Interface.DialFiles;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>Dial files (DESIGN.md §2): executed when complete, removed on success, failed/ with a .log otherwise.</summary>
public sealed class DialFileTests
{
    private static Task<TestServer> StartAsync(Action<ServerConfig>? more = null) => TestServer.StartAsync(c =>
    {
        c.DialFiles = ServerConfig.FastDialFiles();
        more?.Invoke(c);
    });

    private static Task Taken(TestServer server, string name) => Poll.UntilAsync(
        () => !File.Exists(Path.Combine(server.DialDir, name)) && !File.Exists(Path.Combine(server.DialDir, "processing", name)),
        $"dial file {name} to be executed");

    [Fact]
    public async Task A_file_with_good_lines_is_executed_line_by_line_and_removed()
    {
        await using var server = await StartAsync();
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "calls.CTI"), "Forward 100 *\r\n\r\nMakeCall 101 +49 (89) 1234-567\r\nForward 102 103");
        await Taken(server, "calls.CTI");
        Assert.False(Directory.Exists(server.DialFiles!.FailedPath) && Directory.EnumerateFileSystemEntries(server.DialFiles.FailedPath).Any());
        Assert.Contains("; dnd;", await server.StatusAsync("100"));
        await server.WaitForStatusAsync("101", s => s.Contains(":+49891234567"), "calling +49891234567");
        Assert.Contains("; forward 103;", await server.StatusAsync("102"));
    }

    [Fact]
    public async Task The_extension_is_matched_case_insensitively_and_other_files_are_left_alone()
    {
        await using var server = await StartAsync();
        var notes = Path.Combine(server.DialDir, "notes.txt");
        await File.WriteAllTextAsync(notes, "Forward 104 *\n");
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "lower.cti"), "Forward 100 *\n");
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "Mixed.Cti"), "Forward 101 *\n");
        await Taken(server, "lower.cti");
        await Taken(server, "Mixed.Cti");
        Assert.Contains("; dnd;", await server.StatusAsync("100"));
        Assert.Contains("; dnd;", await server.StatusAsync("101"));
        Assert.True(File.Exists(notes));
        Assert.Contains("; off;", await server.StatusAsync("104"));
    }

    [Fact]
    public async Task A_file_with_a_failing_line_goes_to_failed_with_a_log_of_every_reply()
    {
        await using var server = await StartAsync();
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "mixed.CTI"), "Forward 100 *\nAnswer 101\nBogus 1\nMakeCall NNNNN 0891234567\nForward 102 *\n");
        await Taken(server, "mixed.CTI");
        var failed = Path.Combine(server.DialFiles!.FailedPath, "mixed.CTI");
        await Poll.UntilAsync(() => File.Exists(failed + ".log"), "the log in failed/");
        Assert.Equal("Forward 100 *\nAnswer 101\nBogus 1\nMakeCall NNNNN 0891234567\nForward 102 *\n", await File.ReadAllTextAsync(failed));
        var log = await File.ReadAllLinesAsync(failed + ".log");
        Assert.Equal(5, log.Length);
        Assert.StartsWith("1: Forward 100 * -> 200 ", log[0]);
        Assert.StartsWith("2: Answer 101 -> 409 ", log[1]);
        Assert.Contains("no ringing call at 101", log[1]);
        Assert.StartsWith("3: Bogus 1 -> 400 unknown command 'Bogus'", log[2]);
        Assert.StartsWith("4: MakeCall NNNNN 0891234567 -> 404 ", log[3]);
        Assert.Contains("dial file has no client address", log[3]);
        Assert.StartsWith("5: Forward 102 * -> 200 ", log[4]);
        // Lines after a failing one still run: each line is a command of its own.
        Assert.Contains("; dnd;", await server.StatusAsync("102"));
    }

    [Fact]
    public async Task A_file_still_open_for_writing_is_not_executed_until_closed()
    {
        await using var server = await StartAsync();
        var path = Path.Combine(server.DialDir, "a-open.CTI");
        await using (var writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
        {
            await writer.WriteAsync("Forward 10"u8.ToArray());
            await writer.FlushAsync();
            // A complete file dropped after it, sorting after it: once that one has run, the scan has looked at the
            // open file after its settle time too, and must have left it alone.
            await File.WriteAllTextAsync(Path.Combine(server.DialDir, "z-witness.CTI"), "Forward 105 *\n");
            await Taken(server, "z-witness.CTI");
            Assert.True(File.Exists(path), "the half-written file was taken while still open");
            Assert.Contains("; off;", await server.StatusAsync("102"));
            await writer.WriteAsync("2 *\r\n"u8.ToArray());
        }
        await Taken(server, "a-open.CTI");
        Assert.Contains("; dnd;", await server.StatusAsync("102"));
        Assert.False(Directory.Exists(server.DialFiles!.FailedPath) && Directory.EnumerateFileSystemEntries(server.DialFiles.FailedPath).Any());
    }

    [Fact]
    public async Task Files_present_at_start_up_are_processed()
    {
        await using var server = await StartAsync(c => c.BeforeStart = dir =>
        {
            Directory.CreateDirectory(Path.Combine(dir, "dial"));
            File.WriteAllText(Path.Combine(dir, "dial", "early.CTI"), "Forward 103 *\n");
        });
        await Taken(server, "early.CTI");
        Assert.Contains("; dnd;", await server.StatusAsync("103"));
    }

    [Fact]
    public async Task A_file_interrupted_by_a_stop_is_moved_to_failed_and_not_run_again()
    {
        await using var server = await StartAsync(c => c.BeforeStart = dir =>
        {
            Directory.CreateDirectory(Path.Combine(dir, "dial", "processing"));
            File.WriteAllText(Path.Combine(dir, "dial", "processing", "half.CTI"), "Forward 103 *\n");
        });
        var log = Path.Combine(server.DialFiles!.FailedPath, "half.CTI.log");
        Assert.True(File.Exists(log));
        Assert.Contains("server stopped", await File.ReadAllTextAsync(log));
        Assert.Contains("; off;", await server.StatusAsync("103"));
    }

    [Fact]
    public async Task The_periodic_scan_takes_a_file_without_further_notifications()
    {
        // With a settle time longer than the scan interval, the file's creation notification only starts its settle
        // time; what executes it afterwards is the periodic scan, as on a network share that sends no notifications.
        await using var server = await StartAsync(c => c.DialFiles = new DialFileOptions
        {
            ScanInterval = TimeSpan.FromMilliseconds(50),
            SettleTime = TimeSpan.FromMilliseconds(300),
        });
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "share.CTI"), "Forward 104 *\n");
        await Taken(server, "share.CTI");
        Assert.Contains("; dnd;", await server.StatusAsync("104"));
    }

    [Fact]
    public async Task A_file_larger_than_the_limit_is_moved_to_failed_unread()
    {
        await using var server = await StartAsync(c => c.DialFiles!.MaxFileBytes = 16);
        await File.WriteAllTextAsync(Path.Combine(server.DialDir, "big.CTI"), "Forward 100 *\nForward 101 *\n");
        await Taken(server, "big.CTI");
        var log = Path.Combine(server.DialFiles!.FailedPath, "big.CTI.log");
        await Poll.UntilAsync(() => File.Exists(log), "the log in failed/");
        Assert.StartsWith("400 file too large", await File.ReadAllTextAsync(log));
        Assert.Contains("; off;", await server.StatusAsync("100"));
    }
}
