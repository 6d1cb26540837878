using System.Threading.Channels;

namespace Switchboard.Telephony;

/// <summary>
/// Numbers, buffers and fans out call events. A bounded ring of recent events lets a client that lost its
/// connection resume with what it missed; a subscriber that cannot keep up is cut off (its channel completes
/// with <see cref="SubscriberTooSlowException"/>) rather than slowing the phone system down.
/// </summary>
public sealed class CallEventHub
{
    private readonly object _gate = new();
    private readonly CallEvent?[] _ring;
    private readonly List<Subscription> _subscribers = [];
    private readonly int _subscriberCapacity;
    private long _lastSequence;
    private readonly TimeProvider _time;

    /// <summary>Creates a hub that keeps the last <paramref name="bufferSize"/> events for resumption.</summary>
    public CallEventHub(int bufferSize = 10_000, int subscriberCapacity = 4_096, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        _ring = new CallEvent?[bufferSize];
        _subscriberCapacity = subscriberCapacity;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The sequence number of the newest event (0 before the first).</summary>
    public long LastSequence { get { lock (_gate) return _lastSequence; } }

    /// <summary>Number of live subscriptions.</summary>
    public int SubscriberCount { get { lock (_gate) return _subscribers.Count; } }

    /// <summary>Numbers and publishes one event.</summary>
    public CallEvent Publish(CallEventType type, string device, string? callId, ConnectionState state,
        string? subject = null, string? calling = null, string? called = null, string? cause = null)
    {
        lock (_gate)
        {
            var ev = new CallEvent(++_lastSequence, _time.GetUtcNow(), type, device, callId, state, subject, calling, called, cause);
            _ring[ev.Sequence % _ring.Length] = ev;
            for (int i = _subscribers.Count - 1; i >= 0; i--)
            {
                var s = _subscribers[i];
                if (!s.Matches(device)) continue;
                if (!s.Writer.TryWrite(ev))
                {
                    s.Writer.TryComplete(new SubscriberTooSlowException(ev.Sequence - 1));
                    _subscribers.RemoveAt(i);
                }
            }
            return ev;
        }
    }

    /// <summary>
    /// Subscribes to events of <paramref name="device"/> ("*" for all). With <paramref name="afterSequence"/>, the
    /// buffered events newer than it are delivered first, in order, without gaps or duplicates against live events.
    /// </summary>
    public CallEventSubscription Subscribe(string device, long? afterSequence = null)
    {
        var channel = Channel.CreateBounded<CallEvent>(new BoundedChannelOptions(_subscriberCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        lock (_gate)
        {
            var sub = new Subscription(device, channel.Writer);
            long missed = 0;
            bool reset = false;
            long from = _lastSequence;
            if (afterSequence is long after)
            {
                if (after > _lastSequence)
                {
                    // The client saw numbers this process never issued: the server restarted and the buffer is gone.
                    reset = true;
                    after = 0;
                }
                long oldest = Math.Max(1, _lastSequence - _ring.Length + 1);
                long start = Math.Max(after + 1, oldest);
                missed = Math.Max(0, oldest - (after + 1));
                from = start - 1;
                for (long seq = start; seq <= _lastSequence; seq++)
                {
                    var ev = _ring[seq % _ring.Length];
                    if (ev is null || ev.Sequence != seq || !sub.Matches(ev.Device)) continue;
                    if (!channel.Writer.TryWrite(ev))
                    {
                        channel.Writer.TryComplete(new SubscriberTooSlowException(seq - 1));
                        return new CallEventSubscription(this, sub, channel.Reader, from, missed, reset);
                    }
                }
            }
            _subscribers.Add(sub);
            return new CallEventSubscription(this, sub, channel.Reader, from, missed, reset);
        }
    }

    internal void Unsubscribe(object token)
    {
        lock (_gate)
        {
            if (token is Subscription s && _subscribers.Remove(s)) s.Writer.TryComplete();
        }
    }

    internal sealed class Subscription(string device, ChannelWriter<CallEvent> writer)
    {
        public ChannelWriter<CallEvent> Writer { get; } = writer;
        public bool Matches(string dev) => device == "*" || device == dev;
    }
}

/// <summary>A live subscription to call events; dispose it to stop receiving.</summary>
public sealed class CallEventSubscription : IDisposable
{
    private readonly CallEventHub _hub;
    private readonly object _token;

    internal CallEventSubscription(CallEventHub hub, object token, ChannelReader<CallEvent> reader, long after, long missed, bool reset)
    {
        _hub = hub;
        _token = token;
        Reader = reader;
        StartsAfter = after;
        Missed = missed;
        SequenceReset = reset;
    }

    /// <summary>The events, in sequence order.</summary>
    public ChannelReader<CallEvent> Reader { get; }

    /// <summary>Events after this sequence number are delivered.</summary>
    public long StartsAfter { get; }

    /// <summary>How many requested events were no longer buffered.</summary>
    public long Missed { get; }

    /// <summary>True when the requested sequence was newer than any issued (the server restarted).</summary>
    public bool SequenceReset { get; }

    /// <inheritdoc />
    public void Dispose() => _hub.Unsubscribe(_token);
}

/// <summary>Ends a subscription whose reader fell too far behind; resume from <see cref="LastDelivered"/>.</summary>
public sealed class SubscriberTooSlowException(long lastDelivered)
    : Exception($"event subscriber too slow; resume after sequence {lastDelivered}")
{
    /// <summary>The last sequence number that was queued for the subscriber.</summary>
    public long LastDelivered { get; } = lastDelivered;
}
