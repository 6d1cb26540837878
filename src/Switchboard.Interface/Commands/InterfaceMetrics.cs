using System.Diagnostics.Metrics;
using Switchboard.Telephony;

namespace Switchboard.Interface.Commands;

/// <summary>Metrics of the command front ends (meter <see cref="MeterName"/>, exported on /metrics).</summary>
public static class InterfaceMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Switchboard.Interface";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Replies = Meter.CreateCounter<long>("switchboard.command.replies", description: "Command replies by reply code and front end");

    /// <summary>Counts one reply.</summary>
    public static void Reply(FrontEndKind frontEnd, ReplyCode code) =>
        Replies.Add(1, new KeyValuePair<string, object?>("code", (int)code), new KeyValuePair<string, object?>("front_end", FrontEndName(frontEnd)));

    /// <summary>Counts one reply and passes it on.</summary>
    public static CallControlResult Counted(FrontEndKind frontEnd, CallControlResult result)
    {
        Reply(frontEnd, result.Code);
        return result;
    }

    private static string FrontEndName(FrontEndKind kind) => kind switch
    {
        FrontEndKind.Tcp => "tcp",
        FrontEndKind.Udp => "udp",
        FrontEndKind.Http => "http",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
