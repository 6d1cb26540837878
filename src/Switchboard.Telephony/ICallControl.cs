namespace Switchboard.Telephony;

/// <summary>
/// The call-control service interface (DESIGN.md §1, §6): the nine services of the TAPIMaster IP interface plus status.
/// Front ends talk only to this; the built-in switch, the simulation and every PBX connector implement it.
/// Device and number arguments arrive already normalised (digits, optionally a leading '+').
/// </summary>
public interface ICallControl
{
    /// <summary>Short name of the phone system for logs and status (e.g. "simulated", "sip", "asterisk").</summary>
    string Kind { get; }

    /// <summary>dev calls number: dev's phone is rung/seized first, then the destination is called.</summary>
    ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default);

    /// <summary>dev answers its (first) ringing call; a connected call is put on hold first.</summary>
    ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>dev hangs up its current call; an unanswered ringing call is rejected.</summary>
    ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>Deflect dev's first ringing call to target; if none rings, transfer dev's first connected call to target.</summary>
    ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default);

    /// <summary>Alternate between dev's active and held call.</summary>
    ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>Connect dev's two partners (active and held) to each other; dev leaves.</summary>
    ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>Join dev and its two partners in one three-party conference.</summary>
    ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>dev takes the call that is ringing at other.</summary>
    ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default);

    /// <summary>Set forwarding / do-not-disturb of dev, or clear both.</summary>
    ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default);

    /// <summary>The state of a device and its calls, or null when the device is unknown.</summary>
    ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default);

    /// <summary>The devices (extensions) this phone system controls.</summary>
    IReadOnlyCollection<string> Devices { get; }

    /// <summary>
    /// Why the phone system cannot be reached right now (Status then answers 503 like every command), or null. A PBX
    /// connector whose link is down knows nothing current about its devices.
    /// </summary>
    string? UnavailableReason => null;

    /// <summary>Extension (not in the seed): dev puts its connected call on hold. Phone systems that cannot answer 501.</summary>
    ValueTask<CallControlResult> HoldAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(CallControlResult.Fail(ReplyCode.NotImplemented, $"Hold {device}: not available on the {Kind} phone system"));

    /// <summary>Extension (not in the seed): dev takes its held call back. Phone systems that cannot answer 501.</summary>
    ValueTask<CallControlResult> RetrieveAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(CallControlResult.Fail(ReplyCode.NotImplemented, $"Retrieve {device}: not available on the {Kind} phone system"));

    /// <summary>
    /// Extension (not in the seed): the DTMF digits (0–9, *, #, A–D) go into dev's connected call as if dev's keypad
    /// sent them (RFC 4733 telephone-events). Phone systems that cannot answer 501.
    /// </summary>
    ValueTask<CallControlResult> DtmfAsync(string device, string digits, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(CallControlResult.Fail(ReplyCode.NotImplemented, $"Dtmf {device} {digits}: not available on the {Kind} phone system"));
}

/// <summary>
/// A snapshot of one device: whether a phone is reachable, its setting, its connections and, for phone systems that
/// know it, where its phone registered from ("UDP:10.1.2.3:5060"; several separated by ',').
/// </summary>
public sealed record DeviceStatus(string Device, bool Reachable, ForwardingSetting Forwarding, IReadOnlyList<ConnectionStatus> Connections,
    string? RegisteredFrom = null);

/// <summary>One connection of a device in a snapshot: the call, the local state and the other parties.</summary>
public sealed record ConnectionStatus(string CallId, ConnectionState State, IReadOnlyList<string> Partners);
