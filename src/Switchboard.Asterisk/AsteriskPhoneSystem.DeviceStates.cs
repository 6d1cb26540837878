using Microsoft.Extensions.Logging;
using Switchboard.Asterisk.Ami;

namespace Switchboard.Asterisk;

/// <summary>
/// Device states without res_manager_devicestate. DeviceStateList (and the DeviceStateChange events) come from that
/// module; an Asterisk without it answers "Invalid/unknown command", and every device would look reachable. Then the
/// PJSIP endpoints are read instead (PJSIPShowEndpoints: DeviceState and Contacts per endpoint), and ContactStatus
/// events keep the states current.
/// </summary>
public sealed partial class AsteriskPhoneSystem
{
    private async Task ReadEndpointStatesAsync(string why, CancellationToken ct)
    {
        LogNoDeviceStateList(_log, why);
        var r = await _ami.SendAsync(new AmiAction("PJSIPShowEndpoints"), ct, r =>
        {
            if (!r.IsSuccess) return;
            lock (_model.SyncRoot)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in r.Items)
                {
                    if (item.Kind != "EndpointList" || item["ObjectName"] is not { } name || !_model.IsDevice(name)) continue;
                    seen.Add(name);
                    var state = item["DeviceState"] ?? "";
                    var contacts = (item["Contacts"] ?? "").Trim(',', ' ');
                    SetReachable(name, contacts.Length > 0 && !state.Equals("Unavailable", StringComparison.OrdinalIgnoreCase)
                        && !state.Equals("Invalid", StringComparison.OrdinalIgnoreCase));
                }
                // A device in the list without an endpoint on this Asterisk has no phone that could ring.
                foreach (var device in _model.Devices)
                    if (!seen.Contains(device)) SetReachable(device, false);
            }
        }).ConfigureAwait(false);
        if (!r.IsSuccess) LogNoEndpointList(_log, r.Message);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Asterisk has no DeviceStateList ({Message}): load res_manager_devicestate.so; reading PJSIP endpoints instead")]
    private static partial void LogNoDeviceStateList(ILogger log, string message);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Could not read the PJSIP endpoints either ({Message}); devices keep their last known state")]
    private static partial void LogNoEndpointList(ILogger log, string message);
}
