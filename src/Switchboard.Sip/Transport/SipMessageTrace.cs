using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Transport;

/// <summary>
/// Logs whole SIP messages sent and received, for all devices or for chosen ones (matched on the user part of From
/// or To), switched at run time. Off costs one volatile read per message. The message text comes from the network:
/// it is logged as one value, which the console formatter escapes (CR LF shown as <c>\x0D\x0A</c>).
/// </summary>
public sealed partial class SipMessageTrace(ILogger log)
{
    /// <summary>The most devices traced at once (each is looked up per message).</summary>
    public const int MaxDevices = 64;

    private readonly object _gate = new();
    private volatile bool _all;
    private volatile HashSet<string> _devices = new(StringComparer.Ordinal);

    /// <summary>True while any message is traced.</summary>
    public bool Enabled => _all || _devices.Count > 0;

    /// <summary>The traced devices ("*" for all).</summary>
    public IReadOnlyList<string> Devices => _all ? ["*"] : [.. _devices.Order(StringComparer.Ordinal)];

    /// <summary>Traces a device, or every message when <paramref name="device"/> is null; false when <see cref="MaxDevices"/> are traced.</summary>
    public bool On(string? device)
    {
        lock (_gate)
        {
            if (device is null)
            {
                _all = true;
                return true;
            }
            if (_devices.Count >= MaxDevices && !_devices.Contains(device)) return false;
            _devices = new HashSet<string>(_devices, StringComparer.Ordinal) { device };
            return true;
        }
    }

    /// <summary>Stops tracing a device, or everything when <paramref name="device"/> is null.</summary>
    public void Off(string? device)
    {
        lock (_gate)
        {
            if (device is null)
            {
                _all = false;
                _devices = new HashSet<string>(StringComparer.Ordinal);
                return;
            }
            var next = new HashSet<string>(_devices, StringComparer.Ordinal);
            next.Remove(device);
            _devices = next;
        }
    }

    internal void Sent(SipMessage message, SipEndPoint to)
    {
        if (!Enabled) return;
        if (Match(message) is { } device) Traced(log, "sent to", to, device, message.ToString());
    }

    internal void Received(SipMessage message, SipEndPoint from)
    {
        if (!Enabled) return;
        if (Match(message) is { } device) Traced(log, "received from", from, device, message.ToString());
    }

    private string? Match(SipMessage message)
    {
        var from = UserOf(message[SipHeaderNames.From]);
        var to = UserOf(message[SipHeaderNames.To]);
        if (_all) return from ?? to ?? "?";
        var devices = _devices;
        if (from is not null && devices.Contains(from)) return from;
        if (to is not null && devices.Contains(to)) return to;
        return null;
    }

    /// <summary>The user part of the URI in a From/To value (<c>"x" &lt;sip:100@host&gt;;tag=1</c> → 100), or null.</summary>
    internal static string? UserOf(string? value)
    {
        if (value is null) return null;
        var span = value.AsSpan();
        int scheme = span.IndexOf("sip:", StringComparison.OrdinalIgnoreCase);
        int skip = 4;
        int sips = span.IndexOf("sips:", StringComparison.OrdinalIgnoreCase);
        if (sips >= 0 && (scheme < 0 || sips < scheme))
        {
            scheme = sips;
            skip = 5;
        }
        if (scheme < 0) return null;
        var rest = span[(scheme + skip)..];
        int at = rest.IndexOfAny('@', '>', ';');
        if (at <= 0 || rest[at] != '@') return null;
        return rest[..at].ToString();
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "SIP trace {Direction} {Peer} (extension {Device}): {Message}")]
    private static partial void Traced(ILogger log, string direction, SipEndPoint peer, string device, string message);
}
