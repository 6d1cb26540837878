using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Bench.SipLoad;

/// <summary>Runs sipp and reads its statistics file; picks free loopback ports.</summary>
internal static class SippTools
{
    /// <summary>The UAC of sipp's built-in scenario, made tolerant of a 180 that arrives after the 200 (a forking or multi-worker peer reorders them).</summary>
    public const string UacScenario = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="uac tolerant of late 180">
          <send retrans="500" start_txn="invite"><![CDATA[
            INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
            From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>
            Call-ID: [call_id]
            CSeq: 1 INVITE
            Contact: sip:sipp@[local_ip]:[local_port]
            Max-Forwards: 70
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv response="100" optional="true" response_txn="invite"/>
          <recv response="180" optional="true" response_txn="invite"/>
          <recv response="183" optional="true" response_txn="invite"/>
          <recv response="200" rtd="true" response_txn="invite"/>
          <send ack_txn="invite"><![CDATA[
            ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
            From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 1 ACK
            Contact: sip:sipp@[local_ip]:[local_port]
            Max-Forwards: 70
            Content-Length: 0
          ]]></send>
          <pause/>
          <send retrans="500"><![CDATA[
            BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
            From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 2 BYE
            Contact: sip:sipp@[local_ip]:[local_port]
            Max-Forwards: 70
            Content-Length: 0
          ]]></send>
          <recv response="200" crlf="true"/>
        </scenario>
        """;

    /// <summary>An authenticating caller (user 100, password from -ap) for the switch: INVITE, 407, INVITE with credentials, 200, ACK, hold, BYE.</summary>
    public const string AuthUacScenario = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="uac with proxy auth">
          <send retrans="500"><![CDATA[
            INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:100@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>
            Call-ID: [call_id]
            CSeq: 1 INVITE
            Contact: <sip:100@[local_ip]:[local_port]>
            Max-Forwards: 70
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv response="100" optional="true"/>
          <recv response="407" auth="true"/>
          <send><![CDATA[
            ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            [last_Via:]
            From: <sip:100@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 1 ACK
            Max-Forwards: 70
            Content-Length: 0

          ]]></send>
          <send retrans="500" start_txn="invite2"><![CDATA[
            INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:100@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>
            Call-ID: [call_id]
            CSeq: 2 INVITE
            Contact: <sip:100@[local_ip]:[local_port]>
            [authentication]
            Max-Forwards: 70
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv response="100" optional="true" response_txn="invite2"/>
          <recv response="180" optional="true" response_txn="invite2"/>
          <recv response="183" optional="true" response_txn="invite2"/>
          <recv response="200" rtd="true" response_txn="invite2"/>
          <send ack_txn="invite2"><![CDATA[
            ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:100@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 2 ACK
            Max-Forwards: 70
            Content-Length: 0

          ]]></send>
          <pause/>
          <send retrans="500"><![CDATA[
            BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:100@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 3 BYE
            Max-Forwards: 70
            Content-Length: 0

          ]]></send>
          <recv response="200"/>
        </scenario>

        """;

    /// <summary>REGISTER of user [service] with Contact port [contact_port] (answering the challenge with -au/-ap).</summary>
    public const string RegisterScenario = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="register">
          <send retrans="500"><![CDATA[
            REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:[service]@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>
            Call-ID: [call_id]
            CSeq: 1 REGISTER
            Contact: <sip:[service]@[local_ip]:[contact_port]>
            Expires: 300
            Max-Forwards: 70
            Content-Length: 0

          ]]></send>
          <recv response="401" auth="true"/>
          <send retrans="500"><![CDATA[
            REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
            From: <sip:[service]@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>
            Call-ID: [call_id]
            CSeq: 2 REGISTER
            Contact: <sip:[service]@[local_ip]:[contact_port]>
            Expires: 300
            [authentication]
            Max-Forwards: 70
            Content-Length: 0

          ]]></send>
          <recv response="200"/>
        </scenario>

        """;

    public static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public static Process Start(string file, IEnumerable<string> args, string workDir, string? logFile = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var log = logFile is null ? null : new StreamWriter(logFile) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (p) log?.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (p) log?.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>The last row of a sipp -trace_stat CSV as name → value.</summary>
    public static Dictionary<string, string> LastStats(string csv)
    {
        var lines = File.ReadAllLines(csv).Where(l => l.Length > 0).ToArray();
        var head = lines[0].Split(';');
        var last = lines[^1].Split(';');
        return head.Zip(last).ToDictionary(p => p.First, p => p.Second);
    }

    public static long Long(Dictionary<string, string> stats, string key) =>
        stats.TryGetValue(key, out var v) && long.TryParse(v, out var n) ? n : 0;

    public static void Stop(Process? p)
    {
        if (p is null) return;
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
