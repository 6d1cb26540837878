using System.Text;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Tests;

/// <summary>The parsed From, To, Via and CSeq a message keeps, and the bytes it writes (both built for fewer allocations).</summary>
public class ParsedHeaderTests
{
    [Fact]
    public void A_replaced_header_is_parsed_again_not_served_from_the_first_read()
    {
        var r = new SipRequest("BYE", "sip:101@127.0.0.1");
        r.Add(SipHeaderNames.Via, "SIP/2.0/udp 10.0.0.1:5062;branch=z9hG4bKone;rport");
        r.Add(SipHeaderNames.From, "<sip:100@127.0.0.1>;tag=a");
        r.Add(SipHeaderNames.To, "<sip:101@127.0.0.1>");
        r.Add(SipHeaderNames.CSeq, "1 BYE");
        Assert.Equal(("z9hG4bKone", "UDP", 5062), (r.TopVia!.Branch, r.TopVia.Transport, r.TopVia.Port));
        Assert.Null(r.To.Tag);
        Assert.Equal(1u, r.CSeq.Number);

        r.Headers.Insert(0, new SipHeader(SipHeaderNames.Via, "SIP/2.0/TLS [::1]:5061;branch=z9hG4bKtwo"));
        r.Set(SipHeaderNames.To, "\"Bob\" <sip:101@127.0.0.1>;tag=b");
        r.Set(SipHeaderNames.From, "sip:100@127.0.0.1;tag=c");
        r.Set(SipHeaderNames.CSeq, "2 BYE");

        Assert.Equal(("z9hG4bKtwo", "TLS", "[::1]", 5061), (r.TopVia!.Branch, r.TopVia.Transport, r.TopVia.Host, r.TopVia.Port));
        Assert.Equal(("b", "Bob", "sip:101@127.0.0.1"), (r.To.Tag, r.To.DisplayName, r.To.Uri));
        Assert.Equal(("c", "sip:100@127.0.0.1"), (r.From.Tag, r.From.Uri));
        Assert.Equal(2u, r.CSeq.Number);
    }

    [Fact]
    public void Reading_a_header_again_gives_the_value_parsed_the_first_time()
    {
        var r = new SipRequest("BYE", "sip:101@127.0.0.1");
        r.Add(SipHeaderNames.Via, "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKone");
        r.Add(SipHeaderNames.To, "<sip:101@127.0.0.1>;tag=b");
        r.Add(SipHeaderNames.From, "<sip:100@127.0.0.1>;tag=a");

        Assert.Same(r.To, r.To);
        Assert.Same(r.From, r.From);
        Assert.Same(r.TopVia, r.TopVia);
    }

    [Fact]
    public void Parameters_keep_quoted_separators_and_flags()
    {
        var na = NameAddress.Parse("\"A; B\" <sip:100@h;transport=udp>;tag=x;note=\"p;q\";lr");
        Assert.Equal(("A; B", "sip:100@h;transport=udp"), (na.DisplayName, na.Uri));
        Assert.Equal(3, na.Parameters.Count);
        Assert.Equal(("x", "\"p;q\""), (na.Parameters["TAG"], na.Parameters["note"]));
        Assert.True(na.Parameters.ContainsKey("lr"));
        Assert.Null(na.Parameters["lr"]);
    }

    [Fact]
    public void The_bytes_written_carry_utf8_headers_and_a_content_length_from_the_body()
    {
        var r = new SipResponse(200, "OK");
        r.Add(SipHeaderNames.From, "\"Zoë\" <sip:100@h>;tag=a");
        r.Add(SipHeaderNames.ContentLength, "999");
        r.Body = Encoding.ASCII.GetBytes("v=0\r\n");

        var text = Encoding.UTF8.GetString(r.ToBytes());

        Assert.Equal("SIP/2.0 200 OK\r\nFrom: \"Zoë\" <sip:100@h>;tag=a\r\nContent-Length: 5\r\n\r\nv=0\r\n", text);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var bytes = r.ToBytes();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The message array and little else: no builder, no string of the whole message on the way.
        Assert.True(allocated < bytes.Length + 256, $"{allocated} bytes allocated for a message of {bytes.Length}");

        r.Body = [];
        Assert.EndsWith("\r\nContent-Length: 0\r\n\r\n", Encoding.UTF8.GetString(r.ToBytes()), StringComparison.Ordinal);
    }
}
