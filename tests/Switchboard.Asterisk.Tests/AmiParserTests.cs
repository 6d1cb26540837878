using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Asterisk.Ami;

namespace Switchboard.Asterisk.Tests;

/// <summary>The packet parser and the client's handling of malformed and oversized input.</summary>
public sealed class AmiParserTests
{
    private static ReadOnlySequence<byte> Chunked(string text, int chunk)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Segment? first = null, last = null;
        for (int i = 0; i < bytes.Length; i += chunk)
        {
            var mem = bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i));
            if (first is null) first = last = new Segment(mem, 0);
            else last = last!.Append(mem);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Packets_split_anywhere_parse_the_same(int chunk)
    {
        const string wire = "Event: OriginateResponse\r\nPrivilege: call,all\r\nTimestamp: 1795464327.1\r\nActionID: orig-02\r\nResponse: Success\r\n" +
            "AccountCode: \r\nEventTV: 2026-11-23T20:05:25.616+0000\r\n\r\nResponse: Success\r\nActionID: x\r\n\r\n";
        var buffer = Chunked(wire, chunk);
        Assert.True(AmiPacketParser.TryReadPacket(ref buffer, new AmiLimits(), out var p));
        Assert.True(p!.IsEvent); // the first line decides, not the Response header inside
        Assert.False(p.IsResponse);
        Assert.Equal("OriginateResponse", p.Kind);
        Assert.Equal("orig-02", p.ActionId);
        Assert.Equal("", p["AccountCode"]);
        Assert.Equal("2026-11-23T20:05:25.616+0000", p["eventtv"]);
        Assert.True(AmiPacketParser.TryReadPacket(ref buffer, new AmiLimits(), out var r));
        Assert.True(r!.IsResponse);
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void An_incomplete_packet_consumes_nothing()
    {
        var buffer = Chunked("Event: Newchannel\r\nChannel: PJSIP/100-1\r\n", 5);
        var before = buffer.Length;
        Assert.False(AmiPacketParser.TryReadPacket(ref buffer, new AmiLimits(), out _));
        Assert.Equal(before, buffer.Length);
    }

    [Fact]
    public void Limits_are_enforced_with_a_clear_error()
    {
        var limits = new AmiLimits { MaxLineBytes = 64, MaxHeaders = 4, MaxPacketBytes = 200 };
        var longLine = Chunked("Event: X\r\nValue: " + new string('a', 100) + "\r\n\r\n", 7);
        Assert.Contains("line longer than 64", Assert.Throws<AmiProtocolException>(() => AmiPacketParser.TryReadPacket(ref longLine, limits, out _)).Message);

        var endless = Chunked("Event: X\r\nValue: " + new string('a', 100), 7); // no line end at all
        Assert.Throws<AmiProtocolException>(() => AmiPacketParser.TryReadPacket(ref endless, limits, out _));

        var many = Chunked(string.Concat(Enumerable.Range(0, 10).Select(i => $"H{i}: v\r\n")) + "\r\n", 11);
        Assert.Contains("more than 4 header", Assert.Throws<AmiProtocolException>(() => AmiPacketParser.TryReadPacket(ref many, limits, out _)).Message);

        var big = Chunked(string.Concat(Enumerable.Range(0, 4).Select(i => $"H{i}: {new string('b', 60)}\r\n")), 13);
        Assert.Contains("packet larger", Assert.Throws<AmiProtocolException>(() => AmiPacketParser.TryReadPacket(ref big, limits, out _)).Message);
    }

    [Fact]
    public void Lines_without_a_colon_are_kept_as_output_and_stray_empty_lines_are_skipped()
    {
        var buffer = Chunked("\r\n\r\nResponse: Follows\r\nsome legacy output\r\n\r\n", 4);
        Assert.True(AmiPacketParser.TryReadPacket(ref buffer, new AmiLimits(), out var p));
        Assert.Equal(["some legacy output"], p!.All("Output"));
    }

    [Fact]
    public void Actions_refuse_header_injection()
    {
        Assert.Throws<ArgumentException>(() => new AmiAction("Hangup").Add("Channel", "PJSIP/100\r\nAction: Logoff"));
    }

    [Fact]
    public async Task A_peer_that_breaks_the_limits_is_disconnected_and_the_client_reconnects()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int accepted = 0;
        var server = Task.Run(async () =>
        {
            for (int n = 0; n < 2; n++)
            {
                using var c = await listener.AcceptTcpClientAsync();
                Interlocked.Increment(ref accepted);
                var s = c.GetStream();
                await s.WriteAsync(Encoding.ASCII.GetBytes("Asterisk Call Manager/11.0.0\r\n"));
                var buf = new byte[4096];
                var text = "";
                while (!text.Contains("\r\n\r\n", StringComparison.Ordinal)) text += Encoding.ASCII.GetString(buf, 0, await s.ReadAsync(buf));
                var id = text.Split("\r\n").First(l => l.StartsWith("ActionID: ", StringComparison.Ordinal))[10..];
                await s.WriteAsync(Encoding.ASCII.GetBytes($"Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"));
                await Task.Delay(100); // let the client finish its login first
                if (n == 0) await s.WriteAsync(Encoding.ASCII.GetBytes("Event: Junk\r\nData: " + new string('x', 10_000)));
                else await Task.Delay(3000);
            }
        });
        var client = new AmiClient(new AmiClientOptions
        {
            Port = ((IPEndPoint)listener.LocalEndpoint).Port,
            Username = "u",
            Secret = "s",
            ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
            PingInterval = TimeSpan.FromHours(1),
            Limits = new AmiLimits { MaxLineBytes = 1024 },
        });
        int drops = 0;
        client.Disconnected = _ => Interlocked.Increment(ref drops);
        using var cts = new CancellationTokenSource();
        var run = client.RunAsync(cts.Token);
        var end = DateTime.UtcNow.AddSeconds(5);
        while ((Volatile.Read(ref accepted) < 2 || !client.IsConnected) && DateTime.UtcNow < end) await Task.Delay(10);
        Assert.Equal(1, Volatile.Read(ref drops));
        Assert.True(client.IsConnected);
        await cts.CancelAsync();
        client.Abort();
        await run;
        listener.Stop();
    }

    [Fact]
    public async Task Error_responses_event_lists_and_command_output_correlate_by_ActionID()
    {
        var script = Transcript.Load("14")[1];
        var server = new ReplayAmiServer(script) { ReadAfterLogin = [], Optional = e => e.Action == "" };
        await using var client = new AmiClient(new AmiClientOptions { Port = server.Port, Username = "cti", Secret = "ctisecret" });
        await client.ConnectAsync(default);
        var results = new List<(string Action, AmiResponse Response)>();
        foreach (var step in script.Steps.OfType<ExpectStep>().Where(e => e.Action is not ("Login" or "Logoff" or "")))
        {
            var action = new AmiAction(step.Action);
            foreach (var line in step.Lines.Skip(1))
            {
                int c = line.IndexOf(':');
                var name = line[..c];
                if (!name.Equals("ActionID", StringComparison.OrdinalIgnoreCase)) action.Add(name, line[(c + 1)..].TrimStart());
            }
            results.Add((step.Action, await client.SendAsync(action)));
        }
        Assert.Empty(server.Mismatches);
        Assert.Contains(results, r => r.Action == "Hangup" && !r.Response.IsSuccess && r.Response.Message == "No such channel");
        Assert.Contains(results, r => r.Action == "Bridge" && r.Response.Message.StartsWith("Channel1 does not exist", StringComparison.Ordinal));
        var cmdError = results.First(r => r.Action == "Command");
        Assert.False(cmdError.Response.IsSuccess);
        Assert.NotEmpty(cmdError.Response.Output);
        var hungupList = results.Single(r => r.Action == "Hangup" && r.Response.IsSuccess);
        Assert.Equal("Channels hung up will follow", hungupList.Response.Message);
        Assert.True(results.Last().Response.IsSuccess); // lower-case "ping" is accepted
        await server.DisposeAsync();
    }

    [Fact]
    public async Task DBGet_collects_the_event_list_with_the_ActionID_last()
    {
        var script = Transcript.Load("11")[0];
        var server = new ReplayAmiServer(script) { ReadAfterLogin = [] };
        server.OptionalActions.UnionWith(["DBPut", "DBDel", "DBGetTree"]);
        await using var client = new AmiClient(new AmiClientOptions { Port = server.Port, Username = "cti", Secret = "ctisecret" });
        await client.ConnectAsync(default);
        var r = await client.SendAsync(new AmiAction("DBGet").Add("Family", "CF").Add("Key", "100"));
        Assert.True(r.IsSuccess);
        var item = Assert.Single(r.Items);
        Assert.Equal("101", item["Val"]);
        Assert.IsType<DbGetResponseEvent>(AmiEvent.From(item));
        Assert.Empty(server.Mismatches);
        await server.DisposeAsync();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
