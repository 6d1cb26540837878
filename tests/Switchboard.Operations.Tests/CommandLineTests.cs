namespace Switchboard.Operations.Tests;

public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ops-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("--help", "Usage:")]
    [InlineData("--version", "1.")]
    [InlineData("-h", "--config <FILE>")]
    public async Task Help_and_version_print_and_exit_0_without_creating_anything(string option, string expected)
    {
        var (code, stdout, _) = await Switchboard.RunAsync(_dir, option);
        Assert.Equal(0, code);
        Assert.Contains(expected, stdout);
        // No database, no dial folder, no socket: nothing was started.
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public async Task An_unknown_option_exits_2_and_names_it()
    {
        var (code, _, stderr) = await Switchboard.RunAsync(_dir, "--frobnicate", "--Sip:Port=0");
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--frobnicate'", stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public async Task Configuration_keys_and_a_config_file_are_taken()
    {
        var config = Path.Combine(_dir, "custom.json");
        await File.WriteAllTextAsync(config, """
            {
              // comments are allowed, as in the packaged example
              "Simulation": { "Devices": [ "700", "701" ] }
            }
            """);
        await using var server = await Switchboard.StartAsync(_dir, "--demo", "--config", config, "--Logging:LogLevel:Default=Information");
        Assert.True(server.Started, server.Output);
        Assert.StartsWith("200 ", await server.CommandAsync("Status 700"));
        Assert.StartsWith("404 ", await server.CommandAsync("Status 100"));
        // --demo keeps its own database: simulated calls never reach the real journal.
        Assert.True(File.Exists(Path.Combine(_dir, "switchboard-demo.db")));
        Assert.False(File.Exists(Path.Combine(_dir, "switchboard.db")));
        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task The_json_console_format_writes_one_json_object_per_line()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--demo", "--Logging:Console:FormatterName=json");
        // The start line is matched by its category, which the JSON carries too.
        Assert.True(server.Started, server.Output);
        var line = server.Output.Split('\n').First(l => l.Contains("StartupReport", StringComparison.Ordinal));
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(1020, json.RootElement.GetProperty("EventId").GetInt32());
        Assert.Equal("Switchboard.Operations.StartupReport", json.RootElement.GetProperty("Category").GetString());
    }

    [Fact]
    public async Task A_missing_config_file_is_one_clear_line_and_exit_2()
    {
        var (code, _, stderr) = await Switchboard.RunAsync(_dir, "--config", Path.Combine(_dir, "nope.json"));
        Assert.Equal(2, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("nope.json does not exist", stderr);
    }
}
