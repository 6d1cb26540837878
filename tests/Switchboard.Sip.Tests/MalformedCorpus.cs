namespace Switchboard.Sip.Tests;

/// <summary>Broken SIP messages: each must be answered with 400 (when it is a request with enough headers to answer) or dropped.</summary>
public static class MalformedCorpus
{
    private const string Good = "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{n}\r\nFrom: <sip:a@127.0.0.1>;tag=f{n}\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: bad-{n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n";

    /// <summary>(name, text, expect400): {port} and {n} are replaced by the sender's port and a counter.</summary>
    public static IEnumerable<(string Name, string Text, bool Expect400)> Messages()
    {
        yield return ("empty-lines-only", "\r\n\r\n\r\n", false);
        yield return ("binary-garbage", "\u0001\u0002\u0003\u00ff\u00fe garbage", false);
        yield return ("no-request-line-parts", "OPTIONS\r\n" + Good + "\r\n", false);
        yield return ("lowercase-method", "options sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "\r\n", false);
        yield return ("bad-version", "OPTIONS sip:b@127.0.0.1 SIP/3.0\r\n" + Good + "\r\n", true);
        yield return ("uri-without-scheme", "OPTIONS bob SIP/2.0\r\n" + Good + "\r\n", true);
        yield return ("missing-via", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", false);
        yield return ("missing-call-id", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("Call-ID: bad-{n}\r\n", "", StringComparison.Ordinal) + "\r\n", false);
        yield return ("missing-cseq", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("CSeq: 1 OPTIONS\r\n", "", StringComparison.Ordinal) + "\r\n", false);
        yield return ("missing-from", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("From: <sip:a@127.0.0.1>;tag=f{n}\r\n", "", StringComparison.Ordinal) + "\r\n", false);
        yield return ("missing-to", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("To: <sip:b@127.0.0.1>\r\n", "", StringComparison.Ordinal) + "\r\n", false);
        yield return ("cseq-not-a-number", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS", StringComparison.Ordinal) + "\r\n", true);
        yield return ("cseq-method-mismatch", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE", StringComparison.Ordinal) + "\r\n", true);
        yield return ("cseq-overflow", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("CSeq: 1 OPTIONS", "CSeq: 99999999999999999999 OPTIONS", StringComparison.Ordinal) + "\r\n", true);
        yield return ("bad-content-length", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "Content-Length: abc\r\n\r\n", true);
        yield return ("negative-content-length", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "Content-Length: -5\r\n\r\n", true);
        yield return ("content-length-too-big", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "Content-Length: 500\r\n\r\nshort", true);
        yield return ("header-without-colon", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "NoColonHere\r\n\r\n", true);
        yield return ("header-name-with-space", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "Bad Name: x\r\n\r\n", true);
        yield return ("folding-at-start", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n continuation first\r\n" + Good + "\r\n", true);
        yield return ("bad-max-forwards", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("Max-Forwards: 70", "Max-Forwards: many", StringComparison.Ordinal) + "\r\n", true);
        yield return ("via-without-sip", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: HTTP/1.1 127.0.0.1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x{n}\r\nCSeq: 1 OPTIONS\r\n\r\n", false);
        yield return ("via-bad-port", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bKq\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x{n}\r\nCSeq: 1 OPTIONS\r\n\r\n", false);
        yield return ("from-unclosed-angle", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("From: <sip:a@127.0.0.1>;tag=f{n}", "From: <sip:a@127.0.0.1;tag=1", StringComparison.Ordinal) + "\r\n", true);
        yield return ("status-line-bad-code", "SIP/2.0 2000 OK\r\n" + Good + "\r\n", false);
        yield return ("status-line-letters", "SIP/2.0 abc OK\r\n" + Good + "\r\n", false);
        yield return ("response-missing-via", "SIP/2.0 200 OK\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", false);
        yield return ("stray-response", "SIP/2.0 200 OK\r\n" + Good + "\r\n", false);
        yield return ("null-bytes-in-header", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "X-Bad: a\0b\r\n\r\n", true);
        yield return ("request-line-extra-spaces", "OPTIONS  sip:b@127.0.0.1  SIP/2.0\r\n" + Good + "\r\n", false);
        yield return ("only-request-line", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n\r\n", false);
        yield return ("invite-without-body-but-length", "INVITE sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("OPTIONS", "INVITE", StringComparison.Ordinal) + "Content-Length: 100\r\n\r\n", true);
        yield return ("ack-malformed-never-answered", "ACK sip:b@127.0.0.1 SIP/2.0\r\n" + Good.Replace("CSeq: 1 OPTIONS", "CSeq: x ACK", StringComparison.Ordinal) + "\r\n", false);
        yield return ("huge-header-line", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "X-Long: " + new string('a', 9000) + "\r\n\r\n", true);
        yield return ("utf8-overlong", "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + Good + "X-Bytes: \u00c0\u00af\r\n\r\n", true);
    }
}
