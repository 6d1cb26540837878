using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Control;

namespace Switchboard.Operations;

/// <summary>Serves the control socket while the host runs.</summary>
internal sealed class ControlService(ControlCommands commands, IOptions<ControlOptions> options, IOptions<SwitchboardOptions> main,
    ILogger<ControlServer> log) : IHostedService, IAsyncDisposable
{
    private ControlServer? _server;

    /// <summary>The socket file (valid after start).</summary>
    public string? SocketPath => _server?.Path;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var server = new ControlServer(ControlOptions.SocketPath(options.Value.Socket, main.Value.Database), commands.HandleAsync, log);
        try
        {
            server.Start();
        }
        catch (ControlSocketInUseException ex)
        {
            throw new StartupException(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            throw new StartupException($"the control socket {server.Path} cannot be created (Control:Socket): {ex.Message}");
        }
        _server = server;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _server, null) is { } s) await s.DisposeAsync().ConfigureAwait(false);
    }
}
