using System.Net;
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
}
