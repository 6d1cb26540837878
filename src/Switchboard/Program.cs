using Microsoft.Extensions.Hosting;
using Switchboard;

try
{
    using var host = SwitchboardHost.Build(args);
    await host.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is StartupException || ex.InnerException is StartupException)
{
    var startup = ex as StartupException ?? (StartupException)ex.InnerException!;
    Console.Error.WriteLine("switchboard: " + startup.Message);
    return startup.ExitCode;
}
catch (InvalidOperationException ex) when (ex.InnerException is System.Net.Sockets.SocketException)
{
    Console.Error.WriteLine("switchboard: " + ex.Message);
    return 2;
}
