using System.Text;
using Switchboard.Switch.Calls;

namespace Switchboard.Switch.Tests;

/// <summary>One origin per dialog (RFC 3264 §8): what <see cref="SdpText.WithOrigin"/> sends to a phone.</summary>
public sealed class SdpOriginTests
{
    private static byte[] Sdp(string origin, int port, string eol = "\r\n") => Encoding.ASCII.GetBytes(
        string.Join(eol, "v=0", origin, "s=-", "c=IN IP4 10.0.0.1", "t=0 0", $"m=audio {port} RTP/AVP 0", "a=sendrecv") + eol);

    [Fact]
    public void The_first_origin_stays_and_its_version_counts_up_only_when_the_description_changes()
    {
        string? origin = null, rest = null;
        long version = 0;
        var first = Sdp("o=alice 7 3 IN IP4 10.0.0.1", 4000);

        Assert.Same(first, SdpText.WithOrigin(first, ref origin, ref version, ref rest));
        var same = SdpText.WithOrigin(Sdp("o=bob 99 1 IN IP4 10.0.0.9", 4000), ref origin, ref version, ref rest);
        Assert.Equal(Encoding.ASCII.GetString(Sdp("o=alice 7 3 IN IP4 10.0.0.1", 4000)), Encoding.ASCII.GetString(same));
        var moved = SdpText.WithOrigin(Sdp("o=bob 99 1 IN IP4 10.0.0.9", 4002), ref origin, ref version, ref rest);
        Assert.Equal(Encoding.ASCII.GetString(Sdp("o=alice 7 4 IN IP4 10.0.0.1", 4002)), Encoding.ASCII.GetString(moved));
    }

    [Fact]
    public void A_description_in_bare_LF_lines_goes_out_in_CRLF_lines()
    {
        string? origin = null, rest = null;
        long version = 0;
        SdpText.WithOrigin(Sdp("o=alice 7 3 IN IP4 10.0.0.1", 4000), ref origin, ref version, ref rest);

        var sent = SdpText.WithOrigin(Sdp("o=bob 1 1 IN IP4 10.0.0.9", 4000, "\n"), ref origin, ref version, ref rest);

        Assert.Equal(Encoding.ASCII.GetString(Sdp("o=alice 7 3 IN IP4 10.0.0.1", 4000)), Encoding.ASCII.GetString(sent));
    }
}
