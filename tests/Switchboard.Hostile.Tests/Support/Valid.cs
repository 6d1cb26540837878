namespace Switchboard.Hostile.Tests.Support;

/// <summary>The valid inputs every corpus mutates.</summary>
internal static class Valid
{
    public static readonly string[] Commands =
    [
        "Status 100", "Status 105", "MakeCall 100 101", "MakeCall 100 +49 (0)89 123-4567", "MakeCall 101 0891234567", "Answer 100",
        "Drop 100", "Drop NNNNN", "Redirect 100 102", "Redirect 101 +49 89 123", "Toggle 100", "Transfer 100", "Conference 100",
        "Pickup 100 101", "Forward 100 101", "Forward 100 *", "Forward 100", "Forward 101 0891234567", "Monitor 100", "Monitor * 5",
        "status 100", "MAKECALL 102 103", "Drop\t104",
    ];

    public static string Sip(string method, int n, int port, string transport = "UDP", string? body = null)
    {
        var uri = method == "REGISTER" ? "sip:127.0.0.1" : $"sip:10{n % 6}@127.0.0.1";
        var head = $"{method} {uri} SIP/2.0\r\n"
            + $"Via: SIP/2.0/{transport} 127.0.0.1:{port};branch=z9hG4bK-h{n};rport\r\n"
            + $"From: \"Hostile {n}\" <sip:10{(n + 1) % 6}@127.0.0.1>;tag=t{n}\r\n"
            + $"To: <sip:10{n % 6}@127.0.0.1>\r\n"
            + $"Call-ID: hostile-{n}@127.0.0.1\r\n"
            + $"CSeq: {n % 1000 + 1} {method}\r\n"
            + "Max-Forwards: 70\r\n"
            + $"Contact: <sip:10{(n + 1) % 6}@127.0.0.1:{port};transport={transport.ToLowerInvariant()}>;expires=60\r\n"
            + "User-Agent: hostile-corpus\r\n";
        if (method == "REGISTER")
            head += "Authorization: Digest username=\"101\", realm=\"switchboard\", nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"00000000000000000000000000000000\", algorithm=MD5\r\nExpires: 60\r\n";
        if (method == "SUBSCRIBE") head += "Event: message-summary\r\nAccept: application/simple-message-summary\r\n";
        if (method == "REFER") head += "Refer-To: <sip:102@127.0.0.1>\r\n";
        body ??= method == "INVITE" ? Sdp : "";
        if (body.Length > 0) head += "Content-Type: application/sdp\r\n";
        return head + $"Content-Length: {body.Length}\r\n\r\n" + body;
    }

    public const string Sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\n"
        + "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    public static readonly string[] SipMethods = ["OPTIONS", "INVITE", "REGISTER", "BYE", "CANCEL", "ACK", "SUBSCRIBE", "NOTIFY", "REFER", "INFO", "MESSAGE"];

    public const string Ini = "; FCTIIPEX.INI\r\n[Extensions]\r\n127.0.0.1=100\r\n192.168.1.10=101\r\n::1=102\r\nfe80::1%2=103\r\n"
        + "::ffff:10.0.0.7=104\r\n10.0.0.8 = 105\r\n[Other]\r\n10.0.0.9=100\r\n";

    public static string Ami(int n) => (n % 6) switch
    {
        0 => $"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-{n:x8}\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: 100\r\nConnectedLineNum: <unknown>\r\nExten: 101\r\nContext: from-internal\r\nUniqueid: 17000.{n}\r\nLinkedid: 17000.{n}\r\n\r\n",
        1 => $"Event: Newstate\r\nChannel: PJSIP/101-{n:x8}\r\nChannelState: 6\r\nUniqueid: 17000.{n}\r\nLinkedid: 17000.{n - 1}\r\nConnectedLineNum: 100\r\n\r\n",
        2 => $"Event: Hangup\r\nChannel: PJSIP/100-{n:x8}\r\nUniqueid: 17000.{n - 2}\r\nLinkedid: 17000.{n - 2}\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n",
        3 => $"Event: DialBegin\r\nChannel: PJSIP/100-{n:x8}\r\nUniqueid: 17000.{n}\r\nDestChannel: PJSIP/102-{n + 1:x8}\r\nDestUniqueid: 17000.{n + 1}\r\nDialString: 102\r\n\r\n",
        4 => $"Event: ContactStatus\r\nAOR: 101\r\nContactStatus: Reachable\r\nURI: sip:101@127.0.0.1:5060\r\n\r\n",
        _ => $"Event: BlindTransfer\r\nResult: Success\r\nTransfererChannel: PJSIP/100-{n:x8}\r\nTransfererUniqueid: 17000.{n}\r\nTransfereeChannel: PJSIP/101-{n:x8}\r\nTransfereeUniqueid: 17000.{n - 1}\r\nExtension: 103\r\nContext: from-internal\r\n\r\n",
    };
}
