using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Asterisk;
using Switchboard.Switch;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;

namespace Switchboard.Operations;

/// <summary>
/// The server's own metrics (meter <see cref="MeterName"/>), read from the parts' counters when /metrics is scraped,
/// so no hot path pays for them: active calls, registrations, SIP transactions and retransmissions, mixer overruns,
/// AMI connection and trunk registration state. Ended calls by outcome are counted by <see cref="MeteredJournal"/>.
/// </summary>
public sealed class SwitchboardMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Switchboard";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _ended;

    /// <summary>Creates the instruments over the parts this host has.</summary>
    public SwitchboardMetrics(IServiceProvider services)
    {
        var model = services.GetRequiredService<CallModel>();
        _ended = _meter.CreateCounter<long>("switchboard.calls.ended", description: "Calls ended, by outcome");
        _meter.CreateObservableGauge("switchboard.calls.active", () => ActiveCalls(model), description: "Calls up now");
        if (services.GetService<SipSwitch>() is { } sw)
        {
            _meter.CreateObservableGauge("switchboard.registrations", () => sw.Registrations.Count(b => b.Expires > DateTimeOffset.UtcNow),
                description: "Phone registrations (bindings) in force");
            _meter.CreateObservableGauge("switchboard.sip.transactions", () => new[]
            {
                new Measurement<int>(sw.TransactionLayer.ServerCount, new KeyValuePair<string, object?>("kind", "server")),
                new Measurement<int>(sw.TransactionLayer.ClientCount, new KeyValuePair<string, object?>("kind", "client")),
            }, description: "SIP transactions alive");
            _meter.CreateObservableCounter("switchboard.sip.retransmissions", () => new[]
            {
                new Measurement<long>(sw.TransactionLayer.Retransmissions, new KeyValuePair<string, object?>("kind", "request")),
                new Measurement<long>(sw.TransactionLayer.ResponseRetransmissions, new KeyValuePair<string, object?>("kind", "response")),
            }, description: "SIP retransmissions sent");
            _meter.CreateObservableCounter("switchboard.mixer.overruns", () => sw.MixerOverruns, description: "Mixer ticks that came late");
            // Totals across the anchored streams (closed ones included), read once per scrape; jitter as max and mean
            // over the open streams rather than per stream, so the series stay bounded however many calls are up.
            _meter.CreateObservableCounter("switchboard.rtp.packets.received", () => sw.RtpStatistics?.PacketsReceived ?? 0,
                description: "RTP packets received from phones on media anchored in the switch");
            _meter.CreateObservableCounter("switchboard.rtp.packets.sent", () => sw.RtpStatistics?.PacketsSent ?? 0,
                description: "RTP packets sent to phones on media anchored in the switch");
            _meter.CreateObservableCounter("switchboard.rtp.packets.lost", () => sw.RtpStatistics?.PacketsLost ?? 0,
                description: "RTP packets missing from the phones' sequence numbers (RFC 3550 6.4.1)");
            _meter.CreateObservableGauge("switchboard.rtp.streams", () => sw.RtpStatistics?.Streams ?? 0,
                description: "Anchored RTP streams (switch endpoints) open now");
            _meter.CreateObservableGauge("switchboard.rtp.jitter", () =>
            {
                var rtp = sw.RtpStatistics;
                return new[]
                {
                    new Measurement<double>(rtp?.MaxJitter ?? 0, new KeyValuePair<string, object?>("stat", "max")),
                    new Measurement<double>(rtp?.MeanJitter ?? 0, new KeyValuePair<string, object?>("stat", "mean")),
                };
            }, unit: "ms", description: "Interarrival jitter (RFC 3550 6.4.1) of the open anchored streams, in milliseconds");
            _meter.CreateObservableGauge("switchboard.trunk.registered", () => sw.TrunkRegistrations.Select(t =>
                new Measurement<int>(t.State == TrunkRegistrationState.Registered ? 1 : 0, new KeyValuePair<string, object?>("trunk", t.Name))),
                description: "1 while the trunk's upstream holds our registration");
        }
        if (services.GetService<AsteriskPhoneSystem>() is { } asterisk)
            _meter.CreateObservableGauge("switchboard.ami.connected", () => asterisk.IsConnected ? 1 : 0, description: "1 while logged in to the Asterisk manager interface");
    }

    /// <summary>Counts a call that ended.</summary>
    public void CallEnded(CallOutcome outcome) =>
        _ended.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToString().ToLowerInvariant()));

    /// <summary>Calls with at least one connection now.</summary>
    public static int ActiveCalls(CallModel model)
    {
        var calls = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in model.Devices)
            foreach (var c in model.ConnectionsOf(device))
                if (!c.Call.Ended) calls.Add(c.Call.Id);
        return calls.Count;
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}

/// <summary>The call journal with each ended call also counted by outcome.</summary>
internal sealed class MeteredJournal(ICallJournal inner, Func<SwitchboardMetrics> metrics) : ICallJournal
{
    public void CallStarted(string callId, string calling, string called, DateTimeOffset at) => inner.CallStarted(callId, calling, called, at);

    public void CallAnswered(string callId, string answeredBy, DateTimeOffset at) => inner.CallAnswered(callId, answeredBy, at);

    public void CallEnded(string callId, CallOutcome outcome, DateTimeOffset at)
    {
        inner.CallEnded(callId, outcome, at);
        metrics().CallEnded(outcome);
    }

    public IReadOnlyList<CallJournalEntry> Recent(int count) => inner.Recent(count);

    public long MaxCallId() => inner.MaxCallId();
}
