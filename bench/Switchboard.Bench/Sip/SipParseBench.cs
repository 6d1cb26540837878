using System.Diagnostics;
using System.Globalization;
using System.Text;
using Switchboard.Sip.Messages;

namespace Switchboard.Bench.Sip;

/// <summary>
/// SIP parser and writer throughput on one core: messages per second, nanoseconds and bytes allocated per message,
/// for a typical INVITE with SDP, a REGISTER with credentials and a 200 OK with a long Via list.
/// </summary>
internal static class SipParseBench
{
    private const string Invite =
        "INVITE sip:101@192.0.2.10:5060;transport=udp SIP/2.0\r\n" +
        "Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK776asdhds;rport\r\n" +
        "Max-Forwards: 70\r\n" +
        "To: \"Bob\" <sip:101@example.com>\r\n" +
        "From: \"Alice, Sales\" <sip:100@example.com>;tag=1928301774\r\n" +
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
        "CSeq: 314159 INVITE\r\n" +
        "Contact: <sip:100@192.0.2.20:5062;ob>\r\n" +
        "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE\r\n" +
        "Supported: replaces, timer\r\n" +
        "User-Agent: Bench Phone 1.0\r\n" +
        "Content-Type: application/sdp\r\n" +
        "Content-Length: 142\r\n\r\n" +
        "v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    private const string Register =
        "REGISTER sip:example.com SIP/2.0\r\n" +
        "v: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bKnashds7;rport\r\n" +
        "Max-Forwards: 70\r\n" +
        "t: <sip:100@example.com>\r\n" +
        "f: <sip:100@example.com>;tag=456248\r\n" +
        "i: 843817637684230@998sdasdh09\r\n" +
        "CSeq: 1826 REGISTER\r\n" +
        "m: <sip:100@192.0.2.20:5062>;expires=3600\r\n" +
        "Authorization: Digest username=\"100\", realm=\"example.com\", nonce=\"AAABjR2l3k1Qm9uY2U\", uri=\"sip:example.com\",\r\n" +
        " response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n" +
        "l: 0\r\n\r\n";

    private const string Response =
        "SIP/2.0 200 OK\r\n" +
        "Via: SIP/2.0/UDP proxy3.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3, SIP/2.0/UDP proxy2.example.com;branch=z9hG4bK721e418c4.1\r\n" +
        "Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK776asdhds;rport=5062;received=192.0.2.20\r\n" +
        "Record-Route: <sip:proxy3.example.com;lr>, <sip:proxy2.example.com;lr>\r\n" +
        "To: \"Bob\" <sip:101@example.com>;tag=a6c85cf\r\n" +
        "From: \"Alice, Sales\" <sip:100@example.com>;tag=1928301774\r\n" +
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
        "CSeq: 314159 INVITE\r\n" +
        "Contact: <sip:101@192.0.2.10:5060>\r\n" +
        "Content-Length: 0\r\n\r\n";

    public static int Run(string[] args)
    {
        double seconds = 2;
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] == "--seconds") seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
        Console.WriteLine($"SIP parser benchmark: {seconds} s per case, one thread, {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"case",-28} {"bytes",6} {"msgs/s",12} {"ns/msg",8} {"alloc B/msg",12} {"MB/s",8}");
        foreach (var (name, text) in new[] { ("INVITE with SDP", Invite), ("REGISTER with digest", Register), ("200 OK, 3 Vias", Response) })
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            if (SipParser.Parse(bytes, true, SipParserLimits.Default, out var parsed, out _, out var error) != SipParseStatus.Complete)
            {
                Console.WriteLine($"{name}: does not parse: {error}");
                return 1;
            }
            Measure("parse " + name, bytes.Length, seconds, () => SipParser.Parse(bytes, true, SipParserLimits.Default, out _, out _, out _));
            Measure("write " + name, bytes.Length, seconds, () => parsed!.ToBytes());
        }
        return 0;
    }

    private static void Measure(string name, int size, double seconds, Action action)
    {
        for (int i = 0; i < 10_000; i++) action(); // JIT tiering warm-up
        long n = 0;
        long allocBefore = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        while (sw.Elapsed < until)
        {
            for (int i = 0; i < 1000; i++) action();
            n += 1000;
        }
        sw.Stop();
        long alloc = GC.GetAllocatedBytesForCurrentThread() - allocBefore;
        double perSecond = n / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"{name,-28} {size,6} {perSecond,12:N0} {1e9 / perSecond,8:N0} {alloc / n,12:N0} {perSecond * size / 1e6,8:N1}");
    }
}
