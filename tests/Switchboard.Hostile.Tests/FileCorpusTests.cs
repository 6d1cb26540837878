using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Hostile.Tests.Support;
using Switchboard.Interface.Commands;
using Switchboard.Interface.DialFiles;
using Switchboard.Interface.Extensions;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// Mutated FCTIIPEX.INI files and dial files, as real files the running server reads: no exception, every mapping
/// an extension, every dial-file line one bounded reply in its failed/ log, and the server still answering.
/// </summary>
public sealed class FileCorpusTests : IAsyncLifetime
{
    private HostileServer _server = null!;

    public async Task InitializeAsync() => _server = await HostileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Mutated_ini_files_are_read_without_harm_and_map_only_extensions()
    {
        var m = new Mutator(1661);
        var map = _server.Services.GetRequiredService<ExtensionMap>();
        var path = Path.Combine(_server.IniDirectory, ExtensionMap.DefaultFileName);
        int inputs = 0;
        for (int i = 0; i < 300; i++)
        {
            var bytes = m.Chance(5) ? Encoding.UTF8.GetBytes(Valid.Ini) : m.Mutate(Encoding.UTF8.GetBytes(Valid.Ini), maxLength: 200_000);
            await File.WriteAllBytesAsync(path, bytes);
            // A fresh time stamp each round, so the map sees a change even within the file system's time resolution.
            File.SetLastWriteTimeUtc(path, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(i));
            map.Reload();
            inputs++;
            Assert.True(map.Count <= Valid.Ini.Length, $"{map.Count} mappings");
            foreach (var a in new[] { "127.0.0.1", "192.168.1.10", "::1", "fe80::1", "10.0.0.7", "10.0.0.8" })
                if (map.Lookup(IPAddress.Parse(a)) is { } ext) Assert.True(NumberFormat.IsExtension(ext), $"{a} mapped to '{Bounds.Show(ext)}'");
            if (i % 50 == 49)
            {
                Assert.StartsWith("200 ", await CommandAsync("Status 100"));
                Bounds.Memory($"INI file {i}");
            }
        }
        Assert.StartsWith("200 ", await CommandAsync("Status 100"));
        Bounds.NoErrors(_server.Logs);
        Bounds.Memory("the INI corpus");
        // Each load may say what it loaded and which line it refused: a few lines per file, not one per bad line.
        Bounds.LogVolume(_server.Logs, inputs, perInput: 512);
    }

    [Fact]
    public async Task Every_line_of_a_mutated_dial_file_gets_one_bounded_reply()
    {
        var m = new Mutator(4242);
        var dir = Path.Combine(_server.Directory, "dial");
        Directory.CreateDirectory(dir);
        var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        // The watcher class the server runs, on its interpreter, scanned by the test so the run is deterministic.
        using var watcher = new DialFileWatcher(_server.Services.GetRequiredService<CommandInterpreter>(),
            Options.Create(new DialFileOptions { Directory = dir, SettleTime = TimeSpan.Zero }), factory.CreateLogger<DialFileWatcher>());
        string[] names = ["a.CTI", "b c.cti", "ünï.CtI", "-x.CTI", "..CTI", "n#1.cti", "%s%n.CTI", "long" + new string('n', 200) + ".CTI"];
        var expected = new Dictionary<string, string>();
        int lines = 0;
        for (int round = 0; round < 5; round++)
        {
            expected.Clear();
            for (int f = 0; f < 8; f++)
            {
                var sb = new StringBuilder();
                for (int n = 1 + m.Next(56); n > 0; n--)
                    sb.Append(m.Chance(20) ? m.Pick(Valid.Commands) : m.Mutate(m.Pick(Valid.Commands), maxLength: 5_000)).Append(m.Chance(50) ? "\r\n" : "\n");
                var bytes = m.Chance(10) ? m.Mutate(Encoding.Latin1.GetBytes(sb.ToString())) : Encoding.Latin1.GetBytes(sb.ToString());
                if (bytes.Length == 0) bytes = "Status 100\n"u8.ToArray();
                var name = $"r{round:00}-{names[f]}";
                await File.WriteAllBytesAsync(Path.Combine(dir, name), bytes);
                // Read as the watcher reads it: Latin-1 unless a byte-order mark says otherwise (Notepad's "Unicode").
                using var decoded = new StreamReader(new MemoryStream(bytes), Encoding.Latin1, detectEncodingFromByteOrderMarks: true);
                expected[name] = decoded.ReadToEnd();
            }
            await watcher.ScanAsync();
            await watcher.ScanAsync();
            foreach (var (name, text) in expected)
            {
                Assert.False(File.Exists(Path.Combine(dir, name)), $"{name} was not taken");
                int owed = text.Split('\n').Count(l => l.TrimEnd('\r').Trim().Length > 0);
                lines += owed;
                var log = Path.Combine(watcher.FailedPath, name + ".log");
                if (!File.Exists(log)) continue; // every line succeeded and the file was removed
                var entries = File.ReadAllText(log, Encoding.Latin1).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.True(entries.Length == owed, $"{name}: {entries.Length} log entries for {owed} lines");
                foreach (var e in entries)
                {
                    int arrow = e.LastIndexOf(" -> ", StringComparison.Ordinal);
                    Assert.True(arrow > 0, $"{name}: log entry without a reply: {Bounds.Show(e)}");
                    Bounds.Reply(e[(arrow + 4)..], e[..arrow]);
                }
            }
            Assert.StartsWith("200 ", await CommandAsync("Status 100"));
        }
        // A file over the size limit is refused unread.
        await File.WriteAllBytesAsync(Path.Combine(dir, "huge.CTI"), Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("Status 100\n", 100_000))));
        await watcher.ScanAsync();
        await watcher.ScanAsync();
        Assert.StartsWith("400 ", File.ReadAllText(Path.Combine(watcher.FailedPath, "huge.CTI.log")));

        Assert.True(lines >= 1_000, $"{lines} dial-file lines");
        Bounds.NoErrors(logs);
        Bounds.NoErrors(_server.Logs);
        Bounds.Memory("the dial-file corpus");
        Bounds.LogVolume(_server.Logs, lines);
    }

    private async Task<string> CommandAsync(string line)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.CommandPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync() ?? "";
    }
}
