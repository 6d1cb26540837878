using Microsoft.Extensions.Logging;

namespace Switchboard.Simulation;

/// <summary>Log lines of the simulated phone system (event IDs 6260–6269).</summary>
internal static partial class SimulationLog
{
    [LoggerMessage(EventId = 6260, Level = LogLevel.Warning, Message = "SIMULATED phone system with devices {Devices}: no real phone rings; outside parties answer after {Delay}")]
    public static partial void Started(ILogger log, string devices, TimeSpan delay);

    [LoggerMessage(EventId = 6261, Level = LogLevel.Information, Message = "Simulated call {Call}: {Device} calls {Destination}")]
    public static partial void CallPlaced(ILogger log, string call, string device, string destination);

    [LoggerMessage(EventId = 6262, Level = LogLevel.Information, Message = "Simulated outside party {Number} answers call {Call}")]
    public static partial void OutsideAnswers(ILogger log, string number, string call);
}
