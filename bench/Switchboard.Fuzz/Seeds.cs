using System.Text;

namespace Switchboard.Fuzz;

/// <summary>Valid inputs per target: AFL mutates from these, so each covers a different branch of its parser.</summary>
internal static class Seeds
{
    public static IEnumerable<byte[]> For(string target) => target switch
    {
        "sip" => Sip().Select(s => Encoding.UTF8.GetBytes("\0" + s)).Append(Encoding.UTF8.GetBytes("\u0001" + Sip().First() + Sip().Last())),
        "command" => Ascii("MakeCall 100 +49 (0)89 123-4567", "Answer 100\r\nDrop NNNNN", "Forward 100 *", "Forward 101 0891234567",
            "Monitor * 12", "Pickup 100 101", "Redirect 100 102", "Status 100\tx", "Conference 100"),
        "http" => Ascii("GET /Status%20100 HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\nConnection: keep-alive",
            "POST /x HTTP/1.0\r\nContent-Length: 12\r\nTransfer-Encoding: chunked",
            "OPTIONS / HTTP/1.1\r\nAccess-Control-Request-Headers: x-a, x-b\r\nConnection: close"),
        "httpstream" => For("http").Select(b => (byte[])[0x10, .. b, .. "\r\n\r\n"u8])
            .Append([0xFF, .. Encoding.Latin1.GetBytes(string.Concat(Enumerable.Repeat("GET /Status%20100 HTTP/1.1\r\n", 140)))]),
        "ini" => Ascii("[Extensions]\r\n192.168.1.10=100\r\n::1=101\r\n; comment\r\n[Other]\r\nx=y\r\n",
            "[extensions]\nfe80::1%eth0=102\n::ffff:10.0.0.1=103\nbad\n10.0.0.300=1\n"),
        "ami" => Ascii("Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nActionID: sb1-1\r\nMessage: Authentication accepted\r\n\r\n"
            + "Event: Newchannel\r\nChannel: PJSIP/100-00000001\r\nChannelState: 4\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nExten: 101\r\n\r\n"
            + "Event: Hangup\r\nChannel: PJSIP/100-00000001\r\nUniqueid: 1.1\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n",
            "Asterisk Call Manager/2.10.4\r\nResponse: Follows\r\nPrivilege: Command\r\nbare output line\r\n--END COMMAND--\r\n\r\n"),
        "sdp" => Ascii("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
            "v=0\no=x 2 3 IN IP6 ::1\ns=-\nt=0 0\nm=audio 5000 RTP/AVP 0\nc=IN IP6 ::1/64\na=recvonly\nm=video 6000 RTP/AVP 96\n"),
        _ => throw new ArgumentException($"no seeds for '{target}'"),
    };

    private static IEnumerable<byte[]> Ascii(params string[] texts) => texts.Select(Encoding.Latin1.GetBytes);

    private static IEnumerable<string> Sip()
    {
        const string Head = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\nFrom: \"A\" <sip:100@127.0.0.1>;tag=1\r\n"
            + "To: <sip:101@127.0.0.1>\r\nCall-ID: c1@h\r\nMax-Forwards: 70\r\n";
        yield return "OPTIONS sip:101@127.0.0.1 SIP/2.0\r\n" + Head + "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        yield return "REGISTER sip:127.0.0.1 SIP/2.0\r\n" + Head + "CSeq: 2 REGISTER\r\nContact: <sip:100@127.0.0.1:5070>;expires=60, *\r\n"
            + "Authorization: Digest username=\"100\", realm=\"switchboard\", nonce=\"n\", uri=\"sip:127.0.0.1\", response=\"0\"\r\nContent-Length: 0\r\n\r\n";
        const string Sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        yield return "INVITE sip:101@127.0.0.1 SIP/2.0\r\n" + Head + "CSeq: 3 INVITE\r\nContact: <sip:100@127.0.0.1:5070>\r\n"
            + "Content-Type: application/sdp\r\nv: SIP/2.0/TCP [::1]:5071;branch=z9hG4bK2\r\n l: folded\r\nContent-Length: " + Sdp.Length + "\r\n\r\n" + Sdp;
        yield return "SIP/2.0 180 Ringing\r\n" + Head + "CSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\n";
    }
}
