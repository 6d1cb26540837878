using Switchboard.Media.Dtmf;

namespace Switchboard.Media.Tests;

public class TelephoneEventTests
{
    [Fact]
    public void Round_trip()
    {
        var buffer = new byte[4];
        var value = new TelephoneEvent(11, true, 10, 1600);
        Assert.True(value.TryWrite(buffer));
        Assert.Equal(new byte[] { 11, 0x8A, 0x06, 0x40 }, buffer);
        Assert.True(TelephoneEvent.TryParse(buffer, out var parsed));
        Assert.Equal(value, parsed);
    }

    [Fact]
    public void Reserved_bit_is_ignored_and_start_packets_have_no_end_bit()
    {
        Assert.True(TelephoneEvent.TryParse([5, 0x4A, 0x00, 0xA0], out var parsed));
        Assert.Equal(new TelephoneEvent(5, false, 10, 160), parsed);
    }

    [Fact]
    public void Short_payloads_and_bad_volumes_are_refused()
    {
        Assert.False(TelephoneEvent.TryParse([1, 2, 3], out _));
        Assert.False(new TelephoneEvent(1, false, 64, 0).TryWrite(new byte[4]));
        Assert.False(new TelephoneEvent(1, false, 10, 0).TryWrite(new byte[3]));
    }

    [Fact]
    public void Digits_map_to_events_and_back()
    {
        const string digits = "0123456789*#ABCD";
        for (var i = 0; i < digits.Length; i++)
        {
            Assert.True(TelephoneEvent.TryGetEvent(digits[i], out var code));
            Assert.Equal(i, code);
            Assert.True(TelephoneEvent.TryGetDigit(code, out var digit));
            Assert.Equal(digits[i], digit);
        }

        Assert.True(TelephoneEvent.TryGetEvent('b', out var lower));
        Assert.Equal(13, lower);
        Assert.False(TelephoneEvent.TryGetEvent('E', out _));
        Assert.False(TelephoneEvent.TryGetDigit(16, out _));
    }
}
