using System.Diagnostics;
using System.Net;
using Switchboard.Interface.Extensions;
using Switchboard.Interface.Tests.Support;

namespace Switchboard.Interface.Tests;

/// <summary>
/// FCTIIPEX.INI written badly or maliciously (issue 11 finding 8): a bad file is rejected as a whole, a half-written one is
/// not taken, a huge one is not read, a FIFO does not block reloads, and database writes beside it do not wake it.
/// </summary>
// One test here measures what the whole process allocates (a file not read into memory), which tests running beside it
// would blur: the class runs alone.
[Collection(nameof(MemoryMeasurement))]
public sealed class ExtensionMapHostileTests : IDisposable
{
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.1");
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-ini-").FullName;
    private readonly ListLogger<ExtensionMap> _log = new();

    private string Ini => Path.Combine(_dir, ExtensionMap.DefaultFileName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ExtensionMap Start(string content, TimeSpan? poll = null, long maxBytes = ExtensionMap.DefaultMaxFileBytes)
    {
        File.WriteAllText(Ini, content);
        var map = new ExtensionMap(_dir, poll ?? TimeSpan.FromMilliseconds(50), _log, TimeSpan.FromMilliseconds(50), maxBytes);
        Assert.Equal("100", map.Lookup(Client));
        return map;
    }

    /// <summary>Waits until the table has looked at the file <paramref name="count"/> more times (ordering, not timing).</summary>
    private static Task ChecksPassAsync(ExtensionMap map, int count)
    {
        long target = map.Checks + count;
        return Poll.UntilAsync(() => map.Checks >= target, $"{count} more checks of the file");
    }

    [Fact]
    public async Task A_garbage_write_is_rejected_as_a_whole_with_a_warning_naming_the_line_and_the_good_map_stays()
    {
        using var map = Start("[Extensions]\n127.0.0.1=100\n192.168.0.101=101\n");
        var garbage = new byte[4096];
        new Random(11).NextBytes(garbage);
        await File.WriteAllBytesAsync(Ini, garbage);
        await Poll.UntilAsync(() => _log.Text.Contains("whole file is rejected", StringComparison.Ordinal), "the rejection warning");
        Assert.Equal("100", map.Lookup(Client));
        Assert.Equal(2, map.Count);
        var warning = _log.Lines.Single(l => l.Contains("whole file is rejected", StringComparison.Ordinal));
        Assert.StartsWith("Warning [2571] ", warning);
        Assert.Contains("FCTIIPEX.INI:", warning);
        Assert.Contains("previous 2 IP-to-extension mappings stay in use", warning);
        Assert.DoesNotContain("Loaded 0", _log.Text);

        // One bad entry among good ones is no better: the file is rejected, naming that line.
        await File.WriteAllTextAsync(Ini, "[Extensions]\n127.0.0.1=103\n; a comment\n10.0.0.7=10x\n");
        await Poll.UntilAsync(() => _log.Text.Contains(":4: '10x' is not an extension number", StringComparison.Ordinal), "the line-4 warning");
        Assert.Equal("100", map.Lookup(Client));

        await File.WriteAllTextAsync(Ini, "[Extensions]\n127.0.0.1=103\n");
        await Poll.UntilAsync(() => map.Lookup(Client) == "103", "a good file to be taken again");
    }

    [Fact]
    public async Task A_half_written_file_is_not_loaded_while_its_writer_has_it_open()
    {
        using var map = Start("[Extensions]\n127.0.0.1=100\n");
        await using (var writer = new FileStream(Ini, FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
        {
            await writer.WriteAsync("[Extensions]\n127.0.0.1=10"u8.ToArray());
            await writer.FlushAsync();
            await ChecksPassAsync(map, 10);
            Assert.Equal("100", map.Lookup(Client));
            await writer.WriteAsync("5\n"u8.ToArray());
        }
        await Poll.UntilAsync(() => map.Lookup(Client) == "105", "the complete file to be taken");
        Assert.DoesNotContain(_log.Lines, l => l.Contains("Loaded", StringComparison.Ordinal) && l.Contains("10 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_over_the_size_limit_is_not_read_and_the_good_map_stays()
    {
        using var map = Start("[Extensions]\n127.0.0.1=100\n", maxBytes: 64 * 1024);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await using (var big = new StreamWriter(Ini))
        {
            await big.WriteAsync("[Extensions]\n127.0.0.1=105\n");
            var filler = new string('x', 1000);
            for (int i = 0; i < 2000; i++) await big.WriteLineAsync(";" + filler);
        }
        await Poll.UntilAsync(() => _log.Text.Contains("larger than 65536 bytes", StringComparison.Ordinal), "the size warning");
        Assert.Equal("100", map.Lookup(Client));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64L * 1024 * 1024, "the oversized file was read into memory");
    }

    [Fact]
    public async Task A_fifo_in_its_place_is_ignored_and_does_not_block_later_reloads()
    {
        using var map = Start("[Extensions]\n127.0.0.1=100\n");
        File.Delete(Ini);
        using (var mkfifo = Process.Start("mkfifo", Ini)!) await mkfifo.WaitForExitAsync();
        await Poll.UntilAsync(() => _log.Text.Contains("is not a regular file (Fifo)", StringComparison.Ordinal), "the FIFO warning");
        await ChecksPassAsync(map, 5);
        File.Delete(Ini);
        await File.WriteAllTextAsync(Ini, "[Extensions]\n127.0.0.1=103\n");
        await Poll.UntilAsync(() => map.Lookup(Client) == "103", "the regular file that replaced the FIFO to be taken");
    }

    [Fact]
    public async Task Database_writes_in_the_same_directory_do_not_wake_the_table()
    {
        // Polling effectively off: only change notifications reach the table here.
        using var map = Start("[Extensions]\n127.0.0.1=100\n", poll: TimeSpan.FromHours(1));
        long before = map.Wakeups;
        await using (var wal = new FileStream(Path.Combine(_dir, "switchboard.db-wal"), FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
        {
            for (int i = 0; i < 300; i++)
            {
                await wal.WriteAsync(new byte[512]);
                await wal.FlushAsync();
            }
        }
        await File.WriteAllTextAsync(Path.Combine(_dir, "switchboard.db"), "journal");
        // The table's own file as a witness: once its change is taken, every earlier notification has been delivered.
        await File.WriteAllTextAsync(Ini, "[Extensions]\n127.0.0.1=104\n");
        await Poll.UntilAsync(() => map.Lookup(Client) == "104", "the table's own change to be taken");
        Assert.True(map.Wakeups - before < 30, $"{map.Wakeups - before} wake-ups for one change of FCTIIPEX.INI and 300 database writes");
    }
}
