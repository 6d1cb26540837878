using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;

namespace Switchboard.Bench.SipLoad;

/// <summary>
/// 3PCC MakeCall under load with a destination that hangs up right after answering (issue 12): the switchboard
/// executable, sipp phones (one UAS answering for every caller device, one for every destination device, which sends
/// BYE 0–20 ms after its ACK), and MakeCall commands over the IP interface. A call is stuck when the caller's phone got
/// no BYE within the timeout (sipp counts the call failed), or when the switch still shows a call at a device after
/// the run has settled.
/// </summary>
internal static class MakeCallHangupBench
{
    private const int FirstCaller = 100;
    private const int FirstDestination = 200;

    public static async Task<int> RunAsync(string[] args)
    {
        int calls = Opt(args, "--calls", 10_000);
        int rate = Opt(args, "--rate", 200);
        int pairs = Math.Clamp(Opt(args, "--pairs", 99), 1, 99);
        int maxHold = Opt(args, "--hold-max-ms", 20);
        int clients = Math.Clamp(Opt(args, "--clients", 8), 1, 64);
        var dir = Directory.CreateTempSubdirectory("sb-mkhang-").FullName;
        Process? sb = null, callerUas = null, destUas = null;
        try
        {
            int sipPort = SippTools.FreeUdpPort(), commandPort = SippTools.FreeUdpPort();
            int callerPort = SippTools.FreeUdpPort(), destPort = SippTools.FreeUdpPort();
            var password = Guid.NewGuid().ToString("N")[..16];
            var devices = Enumerable.Range(0, pairs).SelectMany(i => new[] { FirstCaller + i, FirstDestination + i }).ToArray();
            var work = Directory.CreateDirectory(Path.Combine(dir, "switchboard")).FullName;
            var sbArgs = new List<string> { Path.Combine(AppContext.BaseDirectory, "switchboard.dll"), "--PhoneSystem=sip",
                $"--Sip:Port={sipPort}", "--Sip:ListenAddress=127.0.0.1", "--Sip:AuthFreeFailures=1000000", "--Sip:AuthRequestsPerSecond=0",
                "--Sip:KeepAliveInterval=00:00:00", $"--IpInterface:Port={commandPort}", "--IpInterface:ListenAddress=127.0.0.1",
                "--CtiServer:Enabled=false", "--DialFiles:Enabled=false", "--Logging:LogLevel:Default=Warning" };
            for (int i = 0; i < devices.Length; i++)
            {
                sbArgs.Add($"--Sip:Devices:{i}={devices[i]}");
                sbArgs.Add($"--Sip:Passwords:{devices[i]}={password}");
            }
            sb = SippTools.Start("dotnet", sbArgs, work, Path.Combine(work, "switchboard.log"));
            File.WriteAllText(Path.Combine(dir, "caller.xml"), CallerScenario);
            File.WriteAllText(Path.Combine(dir, "dest.xml"), DestinationScenario.Replace("[hold_max]", P(maxHold), StringComparison.Ordinal));
            var callerStats = Path.Combine(dir, "caller.csv");
            var destStats = Path.Combine(dir, "dest.csv");
            callerUas = SippTools.Start("sipp", ["-sf", Path.Combine(dir, "caller.xml"), "-i", "127.0.0.1", "-p", P(callerPort), "-nostdin",
                "-buff_size", "4194304", "-trace_stat", "-stf", callerStats, "-fd", "1", "-trace_err", "-error_file", Path.Combine(dir, "caller-err.log")], dir);
            destUas = SippTools.Start("sipp", ["-sf", Path.Combine(dir, "dest.xml"), "-i", "127.0.0.1", "-p", P(destPort), "-nostdin",
                "-buff_size", "4194304", "-trace_stat", "-stf", destStats, "-fd", "1"], dir);
            await Task.Delay(3000);
            if (sb.HasExited) throw new InvalidOperationException("switchboard did not start: " + File.ReadAllText(Path.Combine(work, "switchboard.log")));

            var server = new IPEndPoint(IPAddress.Loopback, sipPort);
            foreach (var d in devices)
                await RegisterAsync(server, P(d), password, d < FirstDestination ? callerPort : destPort);

            Console.WriteLine($"MakeCall with hang-up 0–{maxHold} ms after the answer: {calls} calls at {rate}/s over {pairs} caller/destination pairs, " +
                $"{clients} IP-interface clients, sipp phones on UDP 127.0.0.1, {Environment.ProcessorCount} cores");
            var replies = new Dictionary<string, int>(StringComparer.Ordinal);
            long next = -1;
            var sw = Stopwatch.StartNew();
            async Task ClientAsync()
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, commandPort);
                tcp.NoDelay = true;
                var stream = tcp.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII);
                while (true)
                {
                    long n = Interlocked.Increment(ref next);
                    if (n >= calls) return;
                    var due = TimeSpan.FromSeconds(n / (double)rate) - sw.Elapsed;
                    if (due > TimeSpan.Zero) await Task.Delay(due);
                    int pair = (int)(n % pairs);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"MakeCall {FirstCaller + pair} {FirstDestination + pair}\r\n"));
                    var line = await reader.ReadLineAsync() ?? "(closed)";
                    var key = line.Length >= 3 ? line[..3] + (line.StartsWith("200", StringComparison.Ordinal) ? "" : " " + Shorten(line)) : line;
                    lock (replies) replies[key] = replies.GetValueOrDefault(key) + 1;
                }
            }
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => ClientAsync()));
            var sent = sw.Elapsed;
            Console.WriteLine($"  sent {calls} MakeCalls in {sent.TotalSeconds:F1} s ({calls / sent.TotalSeconds:F0}/s)");
            foreach (var (reply, count) in replies.OrderByDescending(r => r.Value)) Console.WriteLine($"  reply {reply}: {count}");

            // The caller's phone waits up to 15 s for its BYE; let every call end or time out.
            await Task.Delay(TimeSpan.FromSeconds(18));
            var held = new List<string>();
            var heldCalls = new HashSet<string>(StringComparer.Ordinal);
            foreach (var d in devices)
            {
                var status = await CommandAsync(commandPort, $"Status {d}");
                int at = status.IndexOf("calls:", StringComparison.Ordinal);
                if (at < 0) continue;
                held.Add(status);
                foreach (var entry in status[(at + 6)..].Split(';')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    heldCalls.Add(entry.Split('=')[0]);
            }
            var cs = SippTools.LastStats(callerStats);
            var ds = SippTools.LastStats(destStats);
            long callerCalls = SippTools.Long(cs, "IncomingCall(C)");
            long callerEnded = SippTools.Long(cs, "SuccessfulCall(C)");
            Console.WriteLine($"  caller phones: {callerCalls} calls, {callerEnded} ended by a BYE, {SippTools.Long(cs, "FailedCall(C)")} failed (no BYE within 15 s, or an unexpected message), " +
                $"{callerCalls - callerEnded - SippTools.Long(cs, "FailedCall(C)")} still open");
            Console.WriteLine($"  destination phones: {SippTools.Long(ds, "IncomingCall(C)")} calls, {SippTools.Long(ds, "SuccessfulCall(C)")} hung up, {SippTools.Long(ds, "FailedCall(C)")} failed");
            foreach (var h in held.Take(6)) Console.WriteLine("    still in a call: " + h);
            Console.WriteLine($"stuck calls: {callerCalls - callerEnded} of {callerCalls} answered MakeCalls did not end at the caller's phone; " +
                $"the switch still holds {heldCalls.Count} calls ({held.Count} devices)");
            return 0;
        }
        finally
        {
            SippTools.Stop(callerUas);
            SippTools.Stop(destUas);
            SippTools.Stop(sb);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Shorten(string line)
    {
        // Call ids and device numbers vary; the rest names the kind of refusal.
        var sb = new StringBuilder(line.Length);
        foreach (var ch in line.AsSpan(3)) sb.Append(char.IsAsciiDigit(ch) ? '#' : ch);
        return sb.ToString().Trim();
    }

    private static async Task<string> CommandAsync(int port, string command)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        return await new StreamReader(stream, Encoding.ASCII).ReadLineAsync() ?? "";
    }

    /// <summary>REGISTERs <paramref name="device"/> with its Contact at the sipp UAS on <paramref name="contactPort"/>, answering the digest challenge.</summary>
    private static async Task RegisterAsync(IPEndPoint server, string device, string password, int contactPort)
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var local = (IPEndPoint)udp.Client.LocalEndPoint!;
        var callId = Guid.NewGuid().ToString("N") + "@bench";
        SipRequest Build(int cseq)
        {
            var r = new SipRequest("REGISTER", $"sip:{server}");
            r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {local};branch=z9hG4bK{Guid.NewGuid():N};rport");
            r.Add(SipHeaderNames.From, $"<sip:{device}@{server.Address}>;tag=reg{device}");
            r.Add(SipHeaderNames.To, $"<sip:{device}@{server.Address}>");
            r.Add(SipHeaderNames.CallId, callId);
            r.Add(SipHeaderNames.CSeq, $"{cseq} REGISTER");
            r.Add(SipHeaderNames.MaxForwards, "70");
            r.Add(SipHeaderNames.Contact, $"<sip:{device}@127.0.0.1:{P(contactPort)}>");
            r.Add(SipHeaderNames.Expires, "3600");
            return r;
        }
        async Task<SipResponse> ExchangeAsync(SipRequest request)
        {
            await udp.SendAsync(request.ToBytes(), server);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (true)
            {
                var got = await udp.ReceiveAsync(cts.Token);
                if (SipParser.Parse(got.Buffer, true, SipParserLimits.Default, out var m, out _, out _) == SipParseStatus.Complete
                    && m is SipResponse { StatusCode: >= 200 } resp && resp.CSeq.Number == request.CSeq.Number) return resp;
            }
        }
        var challenge = await ExchangeAsync(Build(1));
        var second = Build(2);
        if (challenge.StatusCode != 401 || !DigestClient.Answer(challenge, second, device, password))
            throw new InvalidOperationException($"REGISTER {device}: {challenge.StatusCode} {challenge.Reason}");
        var ok = await ExchangeAsync(second);
        if (ok.StatusCode != 200) throw new InvalidOperationException($"REGISTER {device}: {ok.StatusCode} {ok.Reason}");
    }

    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static T Opt<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>
    /// The caller's phone: answers the switch's INVITE (auto-answer), takes the re-INVITE that connects it to the
    /// destination if one comes, and must then get a BYE within 15 s; a call without one fails (is stuck).
    /// </summary>
    private const string CallerScenario = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="makecall caller phone">
          <recv request="INVITE" crlf="true"/>
          <send><![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]SIPpTag01[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            Contact: <sip:[local_ip]:[local_port];transport=[transport]>
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=caller 1 1 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv request="ACK" timeout="15000"/>
          <recv request="INVITE" optional="true" next="reinvite"/>
          <recv request="BYE" timeout="15000"/>
          <send><![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:]
            [last_Call-ID:]
            [last_CSeq:]
            Content-Length: 0
          ]]></send>
          <nop next="done"/>
          <label id="reinvite"/>
          <send><![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:]
            [last_Call-ID:]
            [last_CSeq:]
            Contact: <sip:[local_ip]:[local_port];transport=[transport]>
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=caller 1 2 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv request="ACK" timeout="15000"/>
          <recv request="BYE" timeout="15000"/>
          <send><![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:]
            [last_Call-ID:]
            [last_CSeq:]
            Content-Length: 0
          ]]></send>
          <label id="done"/>
        </scenario>
        """;

    /// <summary>The destination's phone: answers, and hangs up 0–[hold_max] ms after the ACK.</summary>
    private const string DestinationScenario = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="makecall destination phone hanging up at once">
          <recv request="INVITE" crlf="true">
            <action>
              <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="3"/>
            </action>
          </recv>
          <send><![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]SIPpTag01[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            Contact: <sip:[local_ip]:[local_port];transport=[transport]>
            Content-Type: application/sdp
            Content-Length: [len]

            v=0
            o=dest 1 1 IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 0
            a=rtpmap:0 PCMU/8000
          ]]></send>
          <recv request="ACK">
            <action>
              <ereg regexp=".*" search_in="hdr" header="From:" assign_to="1"/>
              <ereg regexp=".*" search_in="hdr" header="To:" assign_to="2"/>
            </action>
          </recv>
          <pause distribution="uniform" min="0" max="[hold_max]"/>
          <send retrans="500"><![CDATA[
            BYE [$3] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
            From:[$2]
            To:[$1]
            Call-ID: [call_id]
            CSeq: 2 BYE
            Max-Forwards: 70
            Content-Length: 0
          ]]></send>
          <recv response="200"/>
        </scenario>
        """;
}
