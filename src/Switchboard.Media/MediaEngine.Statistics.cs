namespace Switchboard.Media;

/// <summary>
/// RTP counters of the engine's endpoints at one moment: totals since the engine started (the endpoints closed so far
/// included, so they never go down), and the jitter of the streams open now.
/// </summary>
/// <param name="PacketsReceived">RTP packets admitted from the phones.</param>
/// <param name="PacketsSent">RTP packets sent to the phones.</param>
/// <param name="PacketsLost">Packets missing from the phones' sequence numbers.</param>
/// <param name="Streams">Endpoints open now.</param>
/// <param name="Jitter">Interarrival jitter in milliseconds of each open endpoint that has received a packet.</param>
public sealed record RtpStatistics(long PacketsReceived, long PacketsSent, long PacketsLost, int Streams, IReadOnlyList<double> Jitter)
{
    /// <summary>The largest jitter of the open streams, 0 without any.</summary>
    public double MaxJitter => Jitter.Count > 0 ? Jitter.Max() : 0;

    /// <summary>The mean jitter of the open streams, 0 without any.</summary>
    public double MeanJitter => Jitter.Count > 0 ? Jitter.Average() : 0;
}

public sealed partial class MediaEngine
{
    // Guarded by _gate: the counters of endpoints already disposed, so the totals stay monotonic as calls end.
    private long _retiredReceived;
    private long _retiredSent;
    private long _retiredLost;

    /// <summary>The RTP counters of all endpoints, live and closed (a snapshot; each endpoint read without stopping it).</summary>
    public RtpStatistics RtpStatistics()
    {
        lock (_gate)
        {
            long received = _retiredReceived, sent = _retiredSent, lost = _retiredLost;
            var jitter = new List<double>(_endpoints.Count);
            foreach (var endpoint in _endpoints)
            {
                received += endpoint.PacketsReceived;
                sent += endpoint.PacketsSent;
                lost += endpoint.PacketsLost;
                if (endpoint.HasReceived)
                {
                    jitter.Add(endpoint.JitterMilliseconds);
                }
            }

            return new RtpStatistics(received, sent, lost, _endpoints.Count, jitter);
        }
    }

    /// <summary>Under _gate: an endpoint leaves; its counters move into the totals.</summary>
    private void Retire(RtpEndpoint endpoint)
    {
        _retiredReceived += endpoint.PacketsReceived;
        _retiredSent += endpoint.PacketsSent;
        _retiredLost += endpoint.PacketsLost;
    }
}
