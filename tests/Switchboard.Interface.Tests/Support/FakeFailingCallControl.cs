using Switchboard.Telephony;

namespace Switchboard.Interface.Tests.Support;

/// <summary>
/// A fake phone system whose every service throws, as a buggy connector would; only Status works, so tests can check
/// that the server keeps serving after the 500.
/// </summary>
public sealed class FakeFailingCallControl : ICallControl
{
    /// <inheritdoc />
    public string Kind => "fake-failing";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Devices { get; } = ["100"];

    /// <inheritdoc />
    public ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default) => throw Boom();
    /// <inheritdoc />
    public ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default) => throw Boom();

    /// <inheritdoc />
    public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<DeviceStatus?>(device == "100" ? new DeviceStatus("100", true, ForwardingSetting.Off, []) : null);

    private static InvalidOperationException Boom() => new("fake connector failure");
}
