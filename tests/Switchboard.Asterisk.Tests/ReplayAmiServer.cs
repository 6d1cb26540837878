using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Switchboard.Asterisk.Ami;

namespace Switchboard.Asterisk.Tests;

/// <summary>One step of a recorded AMI connection.</summary>
internal abstract record ReplayStep;

/// <summary>The server's banner line (no empty line after it).</summary>
internal sealed record BannerStep(string Line) : ReplayStep;

/// <summary>A packet the server sent.</summary>
internal sealed record SendStep(List<string> Lines) : ReplayStep;

/// <summary>An action the client sent.</summary>
internal sealed record ExpectStep(List<string> Lines) : ReplayStep
{
    public string Action => Header(Lines, "Action") ?? "";

    public static string? Header(IEnumerable<string> lines, string name)
    {
        foreach (var l in lines)
        {
            int c = l.IndexOf(':');
            if (c > 0 && l[..c].Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return l[(c + 1)..].TrimStart();
        }
        return null;
    }
}

/// <summary>The server closes the connection here.</summary>
internal sealed record CloseStep : ReplayStep;

/// <summary>The steps of one recorded TCP connection.</summary>
internal sealed record ReplayConnection(string Label, List<ReplayStep> Steps)
{
    /// <summary>The steps before the Nth (0-based) client action named <paramref name="action"/>, then a server close.</summary>
    public ReplayConnection CutBefore(string action, int occurrence = 0)
    {
        int seen = 0;
        for (int i = 0; i < Steps.Count; i++)
            if (Steps[i] is ExpectStep e && e.Action.Equals(action, StringComparison.OrdinalIgnoreCase) && seen++ == occurrence)
                return new ReplayConnection(Label + " (cut)", [.. Steps.Take(i), new CloseStep()]);
        throw new InvalidOperationException($"no {action} #{occurrence} in {Label}");
    }

    /// <summary>The steps before the Nth (0-based) client action named <paramref name="action"/>, followed by <paramref name="then"/>.</summary>
    public ReplayConnection Before(string action, params ReplayStep[] then)
    {
        var cut = CutBefore(action);
        return new ReplayConnection(Label + " (edited)", [.. cut.Steps.Take(cut.Steps.Count - 1), .. then]);
    }

    /// <summary>The server packets that answered the Nth client action named <paramref name="action"/>, up to its list's *Complete.</summary>
    public List<List<string>> AnswerTo(string action, int occurrence = 0)
    {
        int seen = 0;
        for (int i = 0; i < Steps.Count; i++)
        {
            if (Steps[i] is not ExpectStep e || !e.Action.Equals(action, StringComparison.OrdinalIgnoreCase) || seen++ != occurrence) continue;
            var result = new List<List<string>>();
            for (int j = i + 1; j < Steps.Count && Steps[j] is SendStep s; j++)
            {
                result.Add(s.Lines);
                if (s.Lines[0].StartsWith("Event:", StringComparison.Ordinal) && s.Lines[0].EndsWith("Complete", StringComparison.Ordinal)) break;
                if (s.Lines[0].StartsWith("Response:", StringComparison.Ordinal) && ExpectStep.Header(s.Lines, "EventList") is null) break;
            }
            return result;
        }
        throw new InvalidOperationException($"no {action} #{occurrence} in {Label}");
    }
}

/// <summary>Loads the recorded transcripts (tests/…/Transcripts, copied to the output folder).</summary>
internal static class Transcript
{
    public static List<ReplayConnection> Load(string prefix)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Transcripts");
        var file = Directory.GetFiles(dir, prefix + "*.ami.txt").Single();
        var connections = new List<ReplayConnection>();
        var steps = new List<ReplayStep>();
        string label = "1";
        List<string>? block = null;
        char dir2 = ' ';
        bool sawAny = false;
        void Flush()
        {
            if (block is { Count: > 0 }) steps.Add(dir2 == 'C' ? new ExpectStep(block) : new SendStep(block));
            block = null;
        }
        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith("# === connection", StringComparison.Ordinal))
            {
                Flush();
                if (sawAny) connections.Add(new ReplayConnection(label, steps));
                steps = [];
                label = line["# === connection ".Length..].Split(':')[0].Trim();
                sawAny = true;
                continue;
            }
            if (line.StartsWith('#')) continue;
            if (line.Length == 0) { Flush(); continue; }
            char d = line[0];
            var content = line.Length > 3 ? line[3..] : "";
            sawAny = true;
            if (d == 'S' && block is null && !steps.Any(s => s is BannerStep) && content.StartsWith("Asterisk Call Manager/", StringComparison.Ordinal))
            {
                steps.Add(new BannerStep(content));
                continue;
            }
            if (block is not null && dir2 != d) Flush();
            block ??= [];
            dir2 = d;
            block.Add(content);
        }
        Flush();
        connections.Add(new ReplayConnection(label, steps));
        return connections;
    }
}

/// <summary>
/// A REPLAY of recorded AMI sessions, not a real Asterisk: it listens on 127.0.0.1, sends the recorded server bytes and,
/// where the recording shows a client action, waits for the client's action and checks its name and key headers. The
/// recorded ActionIDs in later server packets are rewritten to the ones the client sent. Actions the recording lacks
/// (the client's state re-read, Ping, Logoff) get canned or configured answers.
/// </summary>
internal sealed class ReplayAmiServer : IAsyncDisposable
{
    private static readonly string[] KeyHeaders = ["Username", "Channel", "ExtraChannel", "Exten", "Context", "Family", "Key", "Val", "Application", "Data", "Channel1", "Channel2"];
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Queue<ReplayConnection> _scripts;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _accept;
    private readonly List<TcpClient> _clients = [];

    public ReplayAmiServer(params ReplayConnection[] scripts)
    {
        _scripts = new Queue<ReplayConnection>(scripts);
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Recorded actions of these names are played even when the client does not send them (it needs no such query).</summary>
    public HashSet<string> OptionalActions { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Further recorded actions to play without the client (e.g. originates to devices the test does not have).</summary>
    public Func<ExpectStep, bool> Optional { get; set; } = _ => false;

    /// <summary>The replay stops before the first recorded action this matches until <see cref="Resume"/>, so a test can look at a moment in between.</summary>
    public Func<ExpectStep, bool> PauseAt { get; set; } = _ => false;

    private readonly SemaphoreSlim _resume = new(0);
    private int _paused;

    /// <summary>Lets a paused replay go on.</summary>
    public void Resume() => _resume.Release();

    /// <summary>Answers to actions the recording lacks, by action name; the ActionID is set to the client's.</summary>
    public Dictionary<string, List<List<string>>> ExtraAnswers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>After a successful login the replay waits for these actions (the client's state re-read) before going on.</summary>
    public string[] ReadAfterLogin { get; set; } = ["DeviceStateList", "CoreShowChannels", "DBGetTree", "DBGetTree"];

    /// <summary>Every action the client sent, as received.</summary>
    public List<AmiPacket> Received { get; } = [];

    /// <summary>Client actions that did not match the recording.</summary>
    public List<string> Mismatches { get; } = [];

    /// <summary>Set when a connection has played its whole script.</summary>
    public int FinishedConnections;

    public ReplayAmiServer Answer(string action, List<List<string>> packets)
    {
        ExtraAnswers[action] = packets;
        return this;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_cts.Token);
                lock (_clients) _clients.Add(client);
                ReplayConnection? script;
                lock (_scripts) _scripts.TryDequeue(out script);
                if (script is null) { client.Dispose(); continue; }
                _ = Task.Run(() => RunAsync(client, script));
            }
        }
        catch (Exception) when (_cts.IsCancellationRequested)
        {
        }
    }

    private async Task RunAsync(TcpClient client, ReplayConnection script)
    {
        var stream = client.GetStream();
        var actions = Channel.CreateUnbounded<AmiPacket>();
        _ = ReadActionsAsync(stream, actions.Writer);
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        AmiPacket? held = null;
        try
        {
            for (int i = 0; i < script.Steps.Count; i++)
            {
                switch (script.Steps[i])
                {
                    case BannerStep b:
                        await WriteAsync(stream, b.Line + "\r\n");
                        break;
                    case SendStep s:
                        await WriteAsync(stream, Render(s.Lines, ids));
                        break;
                    case CloseStep:
                        client.Dispose();
                        return;
                    case ExpectStep e:
                        if (PauseAt(e) && Interlocked.Exchange(ref _paused, 1) == 0) await _resume.WaitAsync(_cts.Token);
                        bool optional = OptionalActions.Contains(e.Action) || Optional(e);
                        while (true)
                        {
                            AmiPacket? next = held;
                            // An optional step is skipped unless the client's action is already here to match it.
                            if (next is null && optional && !actions.Reader.TryRead(out next)) break;
                            var a = next ?? await actions.Reader.ReadAsync(_cts.Token);
                            held = null;
                            if (Matches(e, a))
                            {
                                if (ExpectStep.Header(e.Lines, "ActionID") is { } rec && a.ActionId is { } got) ids[rec] = got;
                                if (e.Action.Equals("Login", StringComparison.OrdinalIgnoreCase) && i + 1 < script.Steps.Count
                                    && script.Steps[i + 1] is SendStep resp && resp.Lines[0] == "Response: Success")
                                {
                                    await WriteAsync(stream, Render(resp.Lines, ids));
                                    i++;
                                    foreach (var _ in ReadAfterLogin)
                                        await AnswerExtraAsync(stream, await actions.Reader.ReadAsync(_cts.Token));
                                }
                                break;
                            }
                            if (optional)
                            {
                                held = a; // the client's action is for a later recorded step
                                break;
                            }
                            await AnswerExtraAsync(stream, a);
                        }
                        break;
                }
            }
            Interlocked.Increment(ref FinishedConnections);
            while (true) await AnswerExtraAsync(stream, held ?? await actions.Reader.ReadAsync(_cts.Token));
        }
        catch (Exception) when (_cts.IsCancellationRequested || !client.Connected)
        {
        }
        catch (IOException)
        {
        }
        catch (ChannelClosedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private bool Matches(ExpectStep e, AmiPacket a)
    {
        if (!string.Equals(a["Action"], e.Action, StringComparison.OrdinalIgnoreCase)) return false;
        foreach (var h in KeyHeaders)
            if (ExpectStep.Header(e.Lines, h) is { } want && a[h] != want) return false;
        return true;
    }

    private async Task AnswerExtraAsync(NetworkStream stream, AmiPacket a)
    {
        var name = a["Action"] ?? "";
        var id = a.ActionId ?? "";
        if (ExtraAnswers.TryGetValue(name, out var packets))
        {
            foreach (var p in packets)
                await WriteAsync(stream, Render([.. p.Select(l => l.StartsWith("ActionID:", StringComparison.OrdinalIgnoreCase) ? "ActionID: " + id : l)], []));
            return;
        }
        switch (name.ToLowerInvariant())
        {
            case "ping":
                await WriteAsync(stream, $"Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n");
                return;
            case "logoff":
                await WriteAsync(stream, $"Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n");
                throw new IOException("logged off");
            case "coreshowchannels" or "devicestatelist" or "dbgettree":
                var complete = name.ToLowerInvariant() switch
                {
                    "devicestatelist" => "DeviceStateListComplete",
                    "dbgettree" => "DBGetTreeComplete",
                    _ => "CoreShowChannelsComplete",
                };
                await WriteAsync(stream, $"Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: list follows\r\n\r\n" +
                    $"Event: {complete}\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 0\r\n\r\n");
                return;
        }
        lock (Mismatches) Mismatches.Add($"unexpected action {name}: {a}");
        await WriteAsync(stream, $"Response: Error\r\nActionID: {id}\r\nMessage: replay: unexpected action\r\n\r\n");
    }

    private static string Render(List<string> lines, Dictionary<string, string> ids)
    {
        var sb = new StringBuilder();
        foreach (var l in lines)
        {
            if (l.StartsWith("ActionID: ", StringComparison.Ordinal) && ids.TryGetValue(l[10..], out var mapped)) sb.Append("ActionID: ").Append(mapped);
            else sb.Append(l);
            sb.Append("\r\n");
        }
        return sb.Append("\r\n").ToString();
    }

    private static async Task WriteAsync(NetworkStream s, string text) => await s.WriteAsync(Encoding.UTF8.GetBytes(text));

    private async Task ReadActionsAsync(NetworkStream stream, ChannelWriter<AmiPacket> writer)
    {
        var reader = PipeReader.Create(stream);
        try
        {
            while (true)
            {
                var r = await reader.ReadAsync(_cts.Token);
                var buf = r.Buffer;
                while (AmiPacketParser.TryReadPacket(ref buf, new AmiLimits(), out var p))
                {
                    lock (Received) Received.Add(p!);
                    writer.TryWrite(p!);
                }
                reader.AdvanceTo(buf.Start, buf.End);
                if (r.IsCompleted) break;
            }
        }
        catch (Exception)
        {
        }
        writer.TryComplete();
    }

    /// <summary>Drops every open connection, as a network failure would.</summary>
    public void DropAll()
    {
        lock (_clients) foreach (var c in _clients) c.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        DropAll();
        try { await _accept; } catch (Exception) { }
        _cts.Dispose();
    }
}
