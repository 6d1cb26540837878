using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Switchboard.Testing.Phones;

namespace Switchboard.Operations.Tests;

/// <summary>
/// /metrics of the real executable while a call made with MakeCall (media anchored in the switch) carries RTP between
/// two hand-written phones on loopback: what a Prometheus scrape shows about the packets the phones sent and got.
/// </summary>
public sealed class RtpMetricsTests : IDisposable
{
    private const string Password = "rtp-metrics-secret-1";
    private readonly string _dir = Directory.CreateTempSubdirectory("ops-rtp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Anchored_rtp_moves_the_packet_counters_and_a_sequence_gap_counts_as_lost()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--Sip:Port=0", "--Sip:TlsPort=-1",
            $"--Sip:Passwords:100={Password}", $"--Sip:Passwords:101={Password}");
        Assert.True(server.Started, server.Output);
        var (_, before) = await server.GetAsync("/metrics");
        Assert.Equal(0, Value(before, "switchboard_rtp_packets_received_total"));
        Assert.Equal(0, Value(before, "switchboard_rtp_packets_sent_total"));

        var sip = new IPEndPoint(IPAddress.Loopback, server.SipPort);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", Password, sip);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", Password, sip);
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        using var callerRtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var calleeRtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.StartsWith("200 ", await server.CommandAsync("MakeCall 100 101"));
        var (first, firstFrom) = await caller.RequestAsync("INVITE");
        int switchPortForCaller = AudioPort(first.Body);
        await caller.RespondAsync(first, 200, firstFrom, RawPhone.Sdp("127.0.0.1", ((IPEndPoint)callerRtp.Client.LocalEndPoint!).Port));
        var (second, secondFrom) = await callee.RequestAsync("INVITE");
        await callee.RespondAsync(second, 200, secondFrom, RawPhone.Sdp("127.0.0.1", ((IPEndPoint)calleeRtp.Client.LocalEndPoint!).Port));
        await callee.RequestAsync("ACK");
        // The switch ACKs the destination before it puts it into the mixer; 101 shows connected once it is in.
        var status = "";
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10) && !status.Contains("=connected:100", StringComparison.Ordinal); await Task.Delay(50))
            status = await server.CommandAsync("Status 101");
        Assert.Contains("=connected:100", status);

        // Ten PCMU packets of 20 ms from the caller, number 6 of 1..11 missing (as a network would drop it).
        var ssrc = 0x1234u;
        foreach (var seq in Enumerable.Range(1, 11).Where(s => s != 6))
        {
            await callerRtp.SendAsync(Packet((ushort)seq, (uint)(seq * 160), ssrc), new IPEndPoint(IPAddress.Loopback, switchPortForCaller));
            await Task.Delay(20);
        }

        // The callee's phone hears them, relayed by the switch.
        int heard = 0;
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            while (heard < 10) { await calleeRtp.ReceiveAsync(guard.Token); heard++; }

        string after = "";
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10); await Task.Delay(100))
        {
            after = (await server.GetAsync("/metrics")).Body;
            if (Value(after, "switchboard_rtp_packets_received_total") >= 10 && Value(after, "switchboard_rtp_packets_sent_total") >= 10) break;
        }
        Assert.Equal(10, Value(after, "switchboard_rtp_packets_received_total"));
        Assert.Equal(10, Value(after, "switchboard_rtp_packets_sent_total"));
        Assert.Equal(1, Value(after, "switchboard_rtp_packets_lost_total"));
        Assert.Equal(2, Value(after, "switchboard_rtp_streams"));
        Assert.Contains("# TYPE switchboard_rtp_packets_received_total counter", after);
        Assert.Matches(@"switchboard_rtp_jitter_milliseconds\{[^}]*stat=""max""[^}]*\} [0-9.eE+-]+", after);
        Assert.Contains("# TYPE switchboard_rtp_jitter_milliseconds gauge", after);

        // The counters are totals: a dropped call's packets stay counted.
        Assert.StartsWith("200 ", await server.CommandAsync("Drop 100"));
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10); await Task.Delay(100))
        {
            after = (await server.GetAsync("/metrics")).Body;
            if (Value(after, "switchboard_rtp_streams") == 0) break;
        }
        Assert.Equal(0, Value(after, "switchboard_rtp_streams"));
        Assert.Equal(10, Value(after, "switchboard_rtp_packets_received_total"));
        Assert.Equal(1, Value(after, "switchboard_rtp_packets_lost_total"));
    }

    [Fact]
    public async Task The_media_engines_log_lines_reach_the_servers_log()
    {
        await using var server = await Switchboard.StartAsync(_dir, "--Sip:Port=0", "--Sip:TlsPort=-1",
            $"--Sip:Passwords:100={Password}", $"--Sip:Passwords:101={Password}");
        Assert.True(server.Started, server.Output);
        var sip = new IPEndPoint(IPAddress.Loopback, server.SipPort);
        await using var caller = RawPhone.OnLoopback("127.0.0.1", "100", Password, sip);
        await using var callee = RawPhone.OnLoopback("127.0.0.1", "101", Password, sip);
        Assert.Equal(200, (await caller.RegisterAsync()).StatusCode);
        Assert.Equal(200, (await callee.RegisterAsync()).StatusCode);
        using var callerRtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var stranger = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.StartsWith("200 ", await server.CommandAsync("MakeCall 100 101"));
        var (first, firstFrom) = await caller.RequestAsync("INVITE");
        var switchPortForCaller = new IPEndPoint(IPAddress.Loopback, AudioPort(first.Body));
        await caller.RespondAsync(first, 200, firstFrom, RawPhone.Sdp("127.0.0.1", ((IPEndPoint)callerRtp.Client.LocalEndPoint!).Port));

        // RTP from another port than the SDP named (as from behind NAT): the engine latches to it and says so (4001),
        // in the server's own log, not in a logger nobody reads.
        var from = ((IPEndPoint)stranger.Client.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);
        var line = "";
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10) && line.Length == 0; await Task.Delay(100))
        {
            await stranger.SendAsync(Packet(1, 160, 0x1234u), switchPortForCaller);
            line = server.Output.Split('\n').FirstOrDefault(l => l.Contains("MediaEngine[4001]", StringComparison.Ordinal) && l.Contains(":" + from + " ", StringComparison.Ordinal)) ?? "";
        }
        Assert.True(line.Length > 0, server.Output);
    }

    private static double Value(string metrics, string series)
    {
        var m = Regex.Match(metrics, "(?m)^" + Regex.Escape(series) + @"(\{[^}]*\})? ([0-9.eE+-]+)");
        return m.Success ? double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : -1;
    }

    private static int AudioPort(byte[] sdp)
    {
        var line = Encoding.ASCII.GetString(sdp).Split("\r\n").First(l => l.StartsWith("m=audio ", StringComparison.Ordinal));
        return int.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    private static byte[] Packet(ushort sequence, uint timestamp, uint ssrc)
    {
        var p = new byte[12 + 160];
        p[0] = 0x80; // version 2
        p[1] = 0;    // PCMU
        p[2] = (byte)(sequence >> 8); p[3] = (byte)sequence;
        p[4] = (byte)(timestamp >> 24); p[5] = (byte)(timestamp >> 16); p[6] = (byte)(timestamp >> 8); p[7] = (byte)timestamp;
        p[8] = (byte)(ssrc >> 24); p[9] = (byte)(ssrc >> 16); p[10] = (byte)(ssrc >> 8); p[11] = (byte)ssrc;
        Array.Fill(p, (byte)0xFF, 12, 160); // µ-law silence
        return p;
    }
}
