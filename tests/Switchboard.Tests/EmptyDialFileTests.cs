using Microsoft.Extensions.Options;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Interface.DialFiles;
using Switchboard.Simulation;
using Switchboard.Telephony;

namespace Switchboard.Tests;

public sealed class EmptyDialFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-empty-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_file_that_stays_empty_is_not_taken_as_executed_but_reported_in_failed()
    {
        var options = new SimulationOptions();
        using var sim = new SimulatedPhoneSystem(new CallModel(options.Devices, new CallEventHub()), options);
        var interpreter = new CommandInterpreter(sim, new AccessPolicy(new AccessOptions()));
        using var watcher = new DialFileWatcher(interpreter, Options.Create(new DialFileOptions
        {
            Directory = _dir,
            SettleTime = TimeSpan.FromMilliseconds(50),
            ScanInterval = TimeSpan.FromMilliseconds(100),
        }));
        await watcher.StartAsync(CancellationToken.None);
        var path = Path.Combine(_dir, "late.CTI");
        await File.WriteAllBytesAsync(path, []);

        // Well past the settle time the empty file must still be waiting for its content.
        await Task.Delay(1500);
        Assert.True(File.Exists(path));
        await File.WriteAllTextAsync(path, "Forward 100 101\r\n");
        // Taken means gone from the directory and from processing/, where it runs.
        var working = Path.Combine(_dir, "processing", "late.CTI");
        for (int i = 0; i < 100 && (File.Exists(path) || File.Exists(working)); i++) await Task.Delay(50);
        Assert.False(File.Exists(path) || File.Exists(working));
        Assert.Equal(ForwardingSetting.To("101"), (await sim.GetStatusAsync("100"))!.Forwarding);

        var never = Path.Combine(_dir, "never.CTI");
        await File.WriteAllBytesAsync(never, []);
        var failedLog = Path.Combine(_dir, "failed", "never.CTI.log");
        var text = "";
        for (int i = 0; i < 300 && !text.Contains("400 empty dial file", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
            if (File.Exists(failedLog)) text = await File.ReadAllTextAsync(failedLog);
        }
        Assert.Contains("400 empty dial file", text);
        await watcher.StopAsync(CancellationToken.None);
    }
}
