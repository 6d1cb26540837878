using Switchboard.Telephony;

namespace Switchboard.Telephony.Tests;

public class CallEventHubTests
{
    [Fact]
    public void Sequence_numbers_grow_by_one_across_devices()
    {
        var hub = new CallEventHub();
        var a = hub.Publish(CallEventType.Delivered, "100", "1", ConnectionState.Alerting);
        var b = hub.Publish(CallEventType.Delivered, "101", "1", ConnectionState.Alerting);
        Assert.Equal(1, a.Sequence);
        Assert.Equal(2, b.Sequence);
        Assert.Equal(2, hub.LastSequence);
    }

    [Fact]
    public void Resume_delivers_exactly_the_missed_events_of_the_device_then_live_ones()
    {
        var hub = new CallEventHub();
        hub.Publish(CallEventType.Originated, "100", "1", ConnectionState.Initiated);
        hub.Publish(CallEventType.Delivered, "101", "1", ConnectionState.Alerting);
        var seen = hub.Publish(CallEventType.Delivered, "100", "1", ConnectionState.Initiated);
        hub.Publish(CallEventType.Established, "100", "1", ConnectionState.Connected);
        hub.Publish(CallEventType.Established, "101", "1", ConnectionState.Connected);
        hub.Publish(CallEventType.ConnectionCleared, "100", "1", ConnectionState.Null);

        using var sub = hub.Subscribe("100", seen.Sequence);
        hub.Publish(CallEventType.Originated, "100", "2", ConnectionState.Initiated);

        var got = Drain(sub);
        Assert.Equal([4L, 6L, 7L], got.Select(e => e.Sequence));
        Assert.All(got, e => Assert.Equal("100", e.Device));
        Assert.Equal(0, sub.Missed);
    }

    [Fact]
    public void Resume_older_than_the_buffer_reports_how_many_were_lost()
    {
        var hub = new CallEventHub(bufferSize: 4);
        for (int i = 0; i < 10; i++) hub.Publish(CallEventType.Held, "100", "1", ConnectionState.Held);
        using var sub = hub.Subscribe("*", 2);
        Assert.Equal(4, sub.Missed); // 3..6 gone, 7..10 buffered
        Assert.Equal([7L, 8L, 9L, 10L], Drain(sub).Select(e => e.Sequence));
    }

    [Fact]
    public void Resume_with_a_number_never_issued_is_flagged_as_a_restart()
    {
        var hub = new CallEventHub();
        hub.Publish(CallEventType.Held, "100", "1", ConnectionState.Held);
        using var sub = hub.Subscribe("100", 500);
        Assert.True(sub.SequenceReset);
        Assert.Equal([1L], Drain(sub).Select(e => e.Sequence));
    }

    [Fact]
    public void A_subscriber_that_does_not_read_is_cut_off_with_the_resume_point()
    {
        var hub = new CallEventHub(subscriberCapacity: 2);
        var sub = hub.Subscribe("*");
        for (int i = 0; i < 5; i++) hub.Publish(CallEventType.Held, "100", "1", ConnectionState.Held);
        Assert.Equal(0, hub.SubscriberCount);
        Assert.True(sub.Reader.TryRead(out var first));
        Assert.True(sub.Reader.TryRead(out _));
        var ex = Assert.Throws<AggregateException>(() => sub.Reader.Completion.Wait());
        var slow = Assert.IsType<SubscriberTooSlowException>(ex.InnerException);
        Assert.Equal(2, slow.LastDelivered);
        Assert.Equal(1, first!.Sequence);
    }

    [Fact]
    public void Event_line_names_the_event_device_call_and_parties()
    {
        var hub = new CallEventHub();
        var ev = hub.Publish(CallEventType.Delivered, "100", "7", ConnectionState.Initiated, "101", "100", "101", "forwarded from 102");
        Assert.Equal("EVENT 1 Delivered 100 call=7 state=initiated subject=101 calling=100 called=101 cause=forwarded_from_102", ev.ToLine());
    }

    private static List<CallEvent> Drain(CallEventSubscription sub)
    {
        var list = new List<CallEvent>();
        while (sub.Reader.TryRead(out var e)) list.Add(e);
        return list;
    }
}
