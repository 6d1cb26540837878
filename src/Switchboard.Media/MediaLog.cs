using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Switchboard.Media;

/// <summary>The media engine's log lines (event IDs 4000–4099 are the media engine's).</summary>
internal static partial class MediaLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "RTP on {Local}: latched to {Source} (the SDP said {Given})")]
    public static partial void Latched(ILogger logger, IPEndPoint local, IPEndPoint source, IPEndPoint given);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "RTP on {Local}: re-latched from {Old} to {Source} after the old source fell silent (same SSRC {Ssrc:x8})")]
    public static partial void Relatched(ILogger logger, IPEndPoint local, IPEndPoint old, IPEndPoint source, uint ssrc);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "RTP on {Local}: dropping packets from {Source}, latched to {Latched} (logged once per latch)")]
    public static partial void ForeignSource(ILogger logger, IPEndPoint local, IPEndPoint source, IPEndPoint latched);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "Conference of {Members} members now {Mode}")]
    public static partial void ModeChanged(ILogger logger, int members, ConferenceMode mode);

    [LoggerMessage(EventId = 4031, Level = LogLevel.Warning, Message = "Media clock fell {Ticks} ticks behind; skipped ahead")]
    public static partial void ClockSkipped(ILogger logger, long ticks);

    [LoggerMessage(EventId = 4032, Level = LogLevel.Error, Message = "Media tick failed for a conference")]
    public static partial void TickFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4033, Level = LogLevel.Warning, Message = "RTP send from {Local} to {Remote} failed: {Error} (logged once per endpoint)")]
    public static partial void SendFailed(ILogger logger, IPEndPoint local, IPEndPoint remote, SocketError error);

    [LoggerMessage(EventId = 4034, Level = LogLevel.Debug, Message = "RTP receive on {Local}: {Error}")]
    public static partial void ReceiveError(ILogger logger, IPEndPoint local, SocketError error);

    [LoggerMessage(EventId = 4035, Level = LogLevel.Error, Message = "RTP packet on {Local} could not be handled")]
    public static partial void PacketFailed(ILogger logger, Exception exception, IPEndPoint local);

    [LoggerMessage(EventId = 4036, Level = LogLevel.Error, Message = "DtmfReceived handler failed on {Local}")]
    public static partial void DtmfHandlerFailed(ILogger logger, Exception exception, IPEndPoint local);
}
