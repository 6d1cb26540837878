using System.Text;
using Switchboard.Sip.Messages;

namespace Switchboard.Sip.Tests;

public class ParserTests
{
    private static SipParseStatus Parse(string text, out SipMessage? m, out string? error, bool datagram = true) =>
        SipParser.Parse(Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n", StringComparison.Ordinal)), datagram, SipParserLimits.Default, out m, out _, out error);

    private const string Invite = """
        INVITE sip:101@127.0.0.1 SIP/2.0
        v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2
        f: "Smith, John" <sip:100@127.0.0.1>;tag=abc
        t: <sip:101@127.0.0.1>
        i: call-1@host
        CSeq: 1 INVITE
        m: "A, B" <sip:100@10.0.0.1:5062;transport=udp>;expires=60, <sip:100@10.0.0.3>
        Subject: a folded
          header value
        Max-Forwards: 70
        c: application/sdp
        l: 3

        v=0
        """;

    [Fact]
    public void Compact_forms_folding_and_list_headers_are_understood()
    {
        Assert.Equal(SipParseStatus.Complete, Parse(Invite, out var m, out var error));
        Assert.Null(error);
        var r = Assert.IsType<SipRequest>(m);
        Assert.Equal("INVITE", r.Method);
        Assert.Equal(2, r.All(SipHeaderNames.Via).Count());
        Assert.Equal("z9hG4bK1", r.TopVia!.Branch);
        Assert.Equal(5062, r.TopVia.Port);
        Assert.Equal("Smith, John", r.From.DisplayName);
        Assert.Equal("abc", r.From.Tag);
        Assert.Equal("call-1@host", r.CallId);
        var contacts = r.All(SipHeaderNames.Contact).Select(NameAddress.Parse).ToList();
        Assert.Equal(2, contacts.Count);
        Assert.Equal("A, B", contacts[0].DisplayName);
        Assert.Equal("60", contacts[0].Parameters["expires"]);
        Assert.Equal("udp", contacts[0].SipUri!.Parameters["transport"]);
        Assert.Equal("a folded header value", r["subject"]);
        Assert.Equal("v=0", r.BodyText);
        Assert.Equal(new CSeq(1, "INVITE"), r.CSeq);
    }

    [Fact]
    public void A_written_message_parses_back_to_the_same_headers()
    {
        Parse(Invite, out var m, out _);
        var again = SipParser.Parse(m!.ToBytes(), true, SipParserLimits.Default, out var m2, out _, out _);
        Assert.Equal(SipParseStatus.Complete, again);
        Assert.Equal(m.Headers.Select(h => h.Name + ":" + h.Value).Where(h => !h.StartsWith("Content-Length", StringComparison.Ordinal)),
            m2!.Headers.Select(h => h.Name + ":" + h.Value).Where(h => !h.StartsWith("Content-Length", StringComparison.Ordinal)));
        Assert.Equal(m.Body, m2.Body);
    }

    [Fact]
    public void Stream_framing_waits_for_the_whole_body_and_reports_consumed_bytes()
    {
        var text = Invite.Replace("\n", "\r\n", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text + "OPTIONS");
        Assert.Equal(SipParseStatus.Incomplete, SipParser.Parse(bytes.AsSpan(0, text.Length - 2), false, SipParserLimits.Default, out _, out _, out _));
        Assert.Equal(SipParseStatus.Complete, SipParser.Parse(bytes, false, SipParserLimits.Default, out _, out var consumed, out _));
        Assert.Equal(text.Length, consumed);
    }

    [Fact]
    public void Uris_and_name_addresses()
    {
        var u = SipUri.Parse("sips:alice:pw@[2001:db8::1]:5071;transport=tcp;lr?subject=x")!;
        Assert.Equal("sips", u.Scheme);
        Assert.Equal("alice", u.User);
        Assert.Equal("[2001:db8::1]", u.Host);
        Assert.Equal(5071, u.Port);
        Assert.Null(u.Parameters["lr"]);
        Assert.Equal("TCP", u.Transport);
        Assert.Equal("subject=x", u.HeadersPart);
        Assert.Null(SipUri.Parse("http://example.com"));
        var na = NameAddress.Parse("sip:bob@host;tag=xyz");
        Assert.Equal("sip:bob@host", na.Uri);
        Assert.Equal("xyz", na.Tag);
        Assert.True(NameAddress.Parse("*").IsWildcard);
    }

    [Fact]
    public void Header_count_and_size_limits_are_enforced()
    {
        var many = new StringBuilder("OPTIONS sip:x@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\n");
        for (int i = 0; i < 200; i++) many.Append("X-H").Append(i).Append(": v\n");
        Assert.Equal(SipParseStatus.Invalid, Parse(many.Append('\n').ToString(), out _, out var error));
        Assert.Contains("header fields", error);
        var huge = new byte[70_000];
        Assert.Equal(SipParseStatus.Invalid, SipParser.Parse(huge.Select(_ => (byte)'A').ToArray(), true, SipParserLimits.Default, out _, out _, out error));
        Assert.Contains("larger than", error);
    }

    [Fact]
    public void Fifty_thousand_mutated_messages_never_throw_and_what_parses_is_usable()
    {
        var seed = Encoding.UTF8.GetBytes(Invite.Replace("\n", "\r\n", StringComparison.Ordinal));
        var rng = new Random(3261); // fixed: a failure is reproducible
        ReadOnlySpan<byte> alphabet = "\r\n:;,\"<>= \t\\@%\0\xff0aZ"u8;
        int complete = 0, invalid = 0;
        for (int i = 0; i < 50_000; i++)
        {
            var bytes = new List<byte>(seed);
            for (int k = rng.Next(1, 6); k > 0 && bytes.Count > 0; k--)
            {
                int at = rng.Next(bytes.Count);
                switch (rng.Next(4))
                {
                    case 0: bytes[at] = alphabet[rng.Next(alphabet.Length)]; break;
                    case 1: bytes.Insert(at, alphabet[rng.Next(alphabet.Length)]); break;
                    case 2: bytes.RemoveRange(at, Math.Min(rng.Next(1, 20), bytes.Count - at)); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }
            var data = bytes.ToArray();
            var status = SipParser.Parse(data, true, SipParserLimits.Default, out var m, out _, out var error);
            SipParser.Parse(data, false, SipParserLimits.Default, out _, out var consumed, out _);
            Assert.InRange(consumed, 0, data.Length);
            if (status == SipParseStatus.Complete)
            {
                complete++;
                Assert.NotNull(m!.TopVia);
                Assert.True(m.CSeq.IsValid);
                Assert.NotEmpty(m.From.Uri);
                Assert.NotEqual(SipParseStatus.Incomplete, SipParser.Parse(m.ToBytes(), true, SipParserLimits.Default, out _, out _, out _));
            }
            else if (status == SipParseStatus.Invalid)
            {
                invalid++;
                Assert.False(string.IsNullOrEmpty(error));
            }
        }
        // Both outcomes must occur, or the mutations are not exercising the parser.
        Assert.True(complete > 1000 && invalid > 1000, $"complete {complete}, invalid {invalid}");
    }
}
