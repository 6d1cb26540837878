using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Testing.Phones;

/// <summary>The SIP transport a linphone phone listens on and registers over.</summary>
public enum LinphoneTransport
{
    Udp,
    Tcp,
    Tls,
}

/// <summary>
/// What a linphone phone is configured with (its linphonerc): transport, how it trusts a TLS server, media encryption.
/// </summary>
public sealed record LinphoneSettings
{
    public LinphoneTransport Transport { get; init; } = LinphoneTransport.Udp;

    /// <summary>PEM file of the certificates the phone trusts for TLS (<c>[sip] root_ca</c>); null: the system store.</summary>
    public string? RootCa { get; init; }

    /// <summary>Whether the server's certificate must chain to <see cref="RootCa"/> (<c>verify_server_certs</c>).</summary>
    public bool VerifyServerCertificate { get; init; } = true;

    /// <summary>Whether the certificate must name the host the phone dialled (<c>verify_server_cn</c>).</summary>
    public bool VerifyServerName { get; init; } = true;

    /// <summary>SDES-SRTP for calls (<c>media_encryption=srtp</c>) instead of plain RTP.</summary>
    public bool Srtp { get; init; }

    /// <summary>Calls without SRTP are refused: offers are RTP/SAVP only, an RTP/AVP offer is answered 488.</summary>
    public bool SrtpMandatory { get; init; }

    /// <summary>The daemon answers every incoming call itself (<c>--auto-answer</c>).</summary>
    public bool AutoAnswer { get; init; }
}

/// <summary>
/// A real linphone 5.1 softphone (Debian linphone-cli's <c>linphone-daemon</c>), headless: no sound card, its audio from
/// a WAV played into the call (<c>incall-player-start</c>), driven over the daemon's unix-socket text protocol (one
/// command line, one reply: <c>Status: Ok|Error</c>, <c>Reason:</c>, then <c>Key: value</c> lines). Its HOME, linphonerc,
/// database, socket and debug log (with every SIP message it sends and receives) live in its own folder; SIP and RTP
/// use a block of ports of their own; on a <see cref="PhoneHost"/> in a network namespace the daemon runs there
/// (<c>ip netns exec</c>) while the test still reaches its socket through the file system.
/// </summary>
/// <remarks>
/// linphone-daemon 5.1.65 here: <c>call-stats</c> crashes it (SIGSEGV), so it is never sent; the daemon reads one
/// command per socket read, so commands go one at a time; it has no command to record what it receives, so what it
/// got is read from the RTP statistics it logs when a stream stops.
/// </remarks>
public sealed class Linphone : IAsyncDisposable
{
    private const string Program = "/usr/bin/linphone-daemon";

    // Replies are a few lines; a register-info of every account is the longest seen. Anything larger is not a reply.
    private const int MaxReply = 64 * 1024;

    // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
    private const int MaxSocketPath = 107;

    private readonly Process _process;
    private readonly Socket _socket;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StreamWriter _output;
    private readonly List<LinphoneEvent> _events = [];

    private Linphone(string name, string dir, int sipPort, int rtpFrom, int rtpTo, Process process, Socket socket, StreamWriter output)
    {
        Name = name;
        Directory = dir;
        SipPort = sipPort;
        RtpPorts = (rtpFrom, rtpTo);
        _process = process;
        _socket = socket;
        _output = output;
    }

    public string Name { get; }

    public string Directory { get; }

    /// <summary>The port of the phone's one SIP transport.</summary>
    public int SipPort { get; }

    public (int From, int To) RtpPorts { get; }

    /// <summary>The daemon's debug log: liblinphone, belle-sip (every SIP message), oRTP and mediastreamer lines.</summary>
    public string LogFile => Path.Combine(Directory, "linphone.log");

    /// <summary>
    /// Starts a phone with its own folder under <paramref name="workDir"/>. It listens on one SIP port of its host's
    /// address (the transport of <paramref name="settings"/>) and takes RTP ports from a range of its own; it has no
    /// account until <see cref="RegisterAsync"/>.
    /// </summary>
    public static async Task<Linphone> StartAsync(string name, string workDir, PhoneHost? host = null, LinphoneSettings? settings = null)
    {
        host ??= PhoneHost.Loopback;
        settings ??= new LinphoneSettings();
        if (!File.Exists(Program)) throw new InvalidOperationException("linphone-daemon is not installed (Debian package linphone-cli)");
        var dir = System.IO.Directory.CreateDirectory(Path.Combine(workDir, name)).FullName;
        var socketPath = Path.Combine(dir, "daemon.sock");
        if (Encoding.UTF8.GetByteCount(socketPath) > MaxSocketPath)
            throw new ArgumentException($"the daemon's socket path {socketPath} is longer than a unix socket address allows", nameof(workDir));

        int block = Ports.Block(16);
        int sipPort = block, rtpFrom = block + 2, rtpTo = block + 15;
        File.WriteAllText(Path.Combine(dir, "linphonerc"), Linphonerc(dir, host.Address, sipPort, rtpFrom, rtpTo, settings));

        // --pipe NAME makes the socket /tmp/NAME: a path relative to /tmp puts it in the phone's folder, out of the way
        // of every other phone and test run.
        var psi = host.Namespace is null
            ? new ProcessStartInfo(Program)
            : new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", host.Namespace, Program } };
        foreach (var a in new[] { "--pipe", Path.GetRelativePath("/tmp", socketPath), "--config", Path.Combine(dir, "linphonerc"), "--log", Path.Combine(dir, "linphone.log"), "--disable-stats-events" })
            psi.ArgumentList.Add(a);
        if (settings.AutoAnswer) psi.ArgumentList.Add("--auto-answer");
        psi.WorkingDirectory = dir;
        psi.Environment["HOME"] = dir;
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        var output = new StreamWriter(Path.Combine(dir, "daemon.out")) { AutoFlush = true };
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
                return new Linphone(name, dir, sipPort, rtpFrom, rtpTo, process, socket, output);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                socket.Dispose();
                await Task.Delay(100);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                var state = process.HasExited ? $"exited ({process.ExitCode})" : "still running";
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.Dispose();
                lock (output) output.Dispose();
                throw new InvalidOperationException($"{name}: linphone-daemon never opened {socketPath} ({ex.SocketErrorCode}; {state}); its output:\n{File.ReadAllText(Path.Combine(dir, "daemon.out"))}");
            }
        }
    }

    private static string Linphonerc(string dir, string address, int sipPort, int rtpFrom, int rtpTo, LinphoneSettings s)
    {
        // Port 0 switches a transport off (-1 would pick a random port).
        int udp = s.Transport == LinphoneTransport.Udp ? sipPort : 0;
        int tcp = s.Transport == LinphoneTransport.Tcp ? sipPort : 0;
        int tls = s.Transport == LinphoneTransport.Tls ? sipPort : 0;
        var rc = new StringBuilder();
        rc.Append(CultureInfo.InvariantCulture, $"""
            [sip]
            sip_port={udp}
            sip_tcp_port={tcp}
            sip_tls_port={tls}
            bind_address={address}
            use_ipv6=0
            media_encryption={(s.Srtp || s.SrtpMandatory ? "srtp" : "none")}
            media_encryption_mandatory={(s.SrtpMandatory ? 1 : 0)}
            verify_server_certs={(s.VerifyServerCertificate ? 1 : 0)}
            verify_server_cn={(s.VerifyServerName ? 1 : 0)}
            inc_timeout=120

            """);
        if (s.RootCa is not null) rc.Append("root_ca=").Append(s.RootCa).Append('\n');
        rc.Append(CultureInfo.InvariantCulture, $"""

            [rtp]
            audio_rtp_port={rtpFrom}-{rtpTo}

            [video]
            enabled=0
            capture=0
            display=0

            [storage]
            uri={Path.Combine(dir, "linphone.db")}

            """);
        return rc.ToString();
    }

    /// <summary>
    /// Sends one command line and returns the daemon's reply. A reply with <c>Status: Error</c> is returned, not thrown:
    /// the caller decides whether an error is the answer it expects.
    /// </summary>
    public async Task<LinphoneReply> CommandAsync(string command)
    {
        // The daemon reads a command per read; a line break inside would make two commands of one reply.
        if (command.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException("a command is one line", nameof(command));
        if (command.StartsWith("call-stats", StringComparison.Ordinal)) throw new ArgumentException("call-stats crashes linphone-daemon 5.1 (SIGSEGV)", nameof(command));
        await _gate.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(command + "\n"));
            var buffer = new byte[MaxReply];
            int length = 0;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            do
            {
                int n = await _socket.ReceiveAsync(buffer.AsMemory(length), timeout.Token);
                if (n == 0) throw new IOException("the daemon closed its socket");
                length += n;
                if (length == buffer.Length) throw new InvalidDataException($"a reply longer than {MaxReply} bytes");
            }
            while (_socket.Available > 0 || !LinphoneReply.LooksComplete(buffer.AsSpan(0, length)));
            return LinphoneReply.Parse(Encoding.UTF8.GetString(buffer, 0, length));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
            var state = _process.HasExited ? $"linphone-daemon exited ({_process.ExitCode})" : "linphone-daemon is running";
            throw new TimeoutException($"{Name}: no reply to '{command}' ({ex.Message}; {state}); end of its log:\n{LogTail()}", ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Sends a command that must succeed; throws with the reason and the log otherwise.</summary>
    public async Task<LinphoneReply> MustAsync(string command)
    {
        var reply = await CommandAsync(command);
        if (!reply.Ok) throw new InvalidOperationException($"{Name}: '{command}' failed: {reply.Reason}; end of its log:\n{LogTail()}");
        return reply;
    }

    /// <summary>
    /// Adds an account: <paramref name="identity"/> (<c>sip:100@host</c>) registered at <paramref name="proxy"/>
    /// (<c>sip:host:port;transport=tls</c>) with the password. Returns the account's id.
    /// </summary>
    public async Task<int> RegisterAsync(string identity, string proxy, string password)
    {
        foreach (var arg in new[] { identity, proxy, password })
            if (arg.Length == 0 || arg.AsSpan().IndexOfAny(' ', '\t') >= 0) throw new ArgumentException($"'{arg}' cannot be one argument of the daemon's command line");
        return (await MustAsync($"register {identity} {proxy} {password} NULL NULL")).Id;
    }

    /// <summary>Waits until every account of the phone is registered (<c>LinphoneRegistrationOk</c>).</summary>
    public async Task WaitRegisteredAsync(double seconds = 30)
    {
        static bool AllOk(LinphoneReply r) => r.All("State") is { Count: > 0 } states && states.All(s => s == "LinphoneRegistrationOk");
        var last = await Poll.ForAsync(() => CommandAsync("register-status ALL"), AllOk, seconds);
        if (!AllOk(last))
            throw new TimeoutException($"{Name} did not register ({string.Join(", ", last.All("State"))}); end of its log:\n{LogTail()}");
    }

    /// <summary>Calls <paramref name="uri"/>; returns the call's id.</summary>
    public async Task<int> CallAsync(string uri) => (await MustAsync("call " + uri)).Id;

    /// <summary>
    /// Waits until the call (the current one when <paramref name="id"/> is null) is in <paramref name="state"/>, e.g.
    /// <c>LinphoneCallIncomingReceived</c> or <c>LinphoneCallStreamsRunning</c>, as <c>call-status</c> reports it.
    /// </summary>
    public async Task<LinphoneReply> WaitCallStateAsync(string state, int? id = null, double seconds = 30)
    {
        var command = id is null ? "call-status" : "call-status " + id.Value.ToString(CultureInfo.InvariantCulture);
        var last = await Poll.ForAsync(() => CommandAsync(command), r => r["State"] == state, seconds);
        if (last["State"] != state)
            throw new TimeoutException($"{Name}: call {id?.ToString(CultureInfo.InvariantCulture) ?? "(current)"} never reached {state} (last: {last}); events: {string.Join(", ", await EventsAsync())}; end of its log:\n{LogTail()}");
        return last;
    }

    /// <summary>
    /// Waits until a call (any when <paramref name="id"/> is null) has ended (<c>LinphoneCallEnd</c> or, for one that
    /// failed, <c>LinphoneCallError</c>) and its streams stopped, so the RTP statistics are in the log.
    /// </summary>
    public async Task WaitCallEndedAsync(int? id = null, double seconds = 30)
    {
        var key = id?.ToString(CultureInfo.InvariantCulture);
        bool Ended(IReadOnlyList<LinphoneEvent> events) =>
            events.Any(e => e.Event is "LinphoneCallEnd" or "LinphoneCallError" && (key is null || e.Id == key));
        var events = await Poll.ForAsync(EventsAsync, Ended, seconds);
        if (!Ended(events)) throw new TimeoutException($"{Name}: call {key ?? "(any)"} did not end; events: {string.Join(", ", events)}; end of its log:\n{LogTail()}");
        // oRTP logs a stream's table when the stream stops, a moment after the state change: one table per ended call.
        int ended = _events.Count(e => e.Event == "LinphoneCallEnd");
        await Poll.UntilAsync(() => RtpStatistics().Count >= ended, $"{Name} to log the RTP statistics of its {ended} ended call(s)", seconds);
    }

    /// <summary>Answers the incoming call (the current one when <paramref name="id"/> is null).</summary>
    public Task AnswerAsync(int? id = null) => MustAsync(id is null ? "answer" : "answer " + id.Value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Hangs up the call (the current one when <paramref name="id"/> is null).</summary>
    public Task TerminateAsync(int? id = null) => MustAsync(id is null ? "terminate" : "terminate " + id.Value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Plays a WAV file into the current call, in place of a microphone (the phone has none).</summary>
    public Task PlayAsync(string wav)
    {
        if (!File.Exists(wav)) throw new FileNotFoundException("no such WAV file", wav);
        if (wav.AsSpan().IndexOfAny(' ', '\t') >= 0) throw new ArgumentException("the daemon splits arguments at spaces", nameof(wav));
        return MustAsync("incall-player-start " + wav);
    }

    /// <summary>
    /// Every event the daemon queued so far (<c>pop-event</c> until the queue is empty), added to those read before:
    /// call and registration state changes, oldest first.
    /// </summary>
    public async Task<IReadOnlyList<LinphoneEvent>> EventsAsync()
    {
        // A reply to pop-event carries one event and the number still queued ("Size"); the last one says Size: 0.
        for (int i = 0; i < 1000; i++)
        {
            var reply = await CommandAsync("pop-event");
            if (reply["Event-type"] is { } type) _events.Add(new LinphoneEvent(type, reply["Event"] ?? "", reply["Id"], reply["From"]));
            if (!reply.Ok || reply["Size"] is null or "0") break;
        }
        return _events.ToList();
    }

    /// <summary>The SIP messages the phone sent and received so far, as its log shows them.</summary>
    public IReadOnlyList<LinphoneSipMessage> SipTrace() => LinphoneLog.SipMessages(ReadLog());

    /// <summary>The RTP statistics of each audio stream that has stopped (oRTP logs them when a call ends), oldest first.</summary>
    public IReadOnlyList<LinphoneRtpStatistics> RtpStatistics() => LinphoneLog.RtpStatistics(ReadLog());

    /// <summary>The last lines of the phone's log (mediastreamer's filter tables left out), for failure messages.</summary>
    public string LogTail(int lines = 80)
    {
        try
        {
            return string.Join('\n', ReadLog().Split('\n').Where(l => !l.Contains("mediastreamer-message-", StringComparison.Ordinal)).TakeLast(lines));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private string ReadLog()
    {
        if (!File.Exists(LogFile)) return "";
        using var f = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(f).ReadToEnd();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await CommandAsync("quit").WaitAsync(cts.Token);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }
        try
        {
            if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(3000);
        }
        catch (InvalidOperationException)
        {
        }
        _socket.Dispose();
        _process.Dispose();
        lock (_output) _output.Dispose();
        _gate.Dispose();
    }
}

/// <summary>One reply of linphone-daemon: its status, the reason of an error, and the <c>Key: value</c> lines in order.</summary>
public sealed class LinphoneReply
{
    private LinphoneReply(bool ok, string? reason, IReadOnlyList<KeyValuePair<string, string>> fields, string text)
    {
        Ok = ok;
        Reason = reason;
        Fields = fields;
        Text = text;
    }

    public bool Ok { get; }

    public string? Reason { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; }

    /// <summary>The reply as the daemon wrote it.</summary>
    public string Text { get; }

    /// <summary>The first value of the key, or null.</summary>
    public string? this[string key] => Fields.FirstOrDefault(f => f.Key == key).Value;

    /// <summary>Every value of the key (one per account or call in an <c>ALL</c> reply).</summary>
    public IReadOnlyList<string> All(string key) => Fields.Where(f => f.Key == key).Select(f => f.Value).ToList();

    /// <summary>The <c>Id:</c> of a reply that must carry one.</summary>
    public int Id => int.TryParse(this["Id"], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
        ? id
        : throw new InvalidDataException("the reply carries no Id: " + Text);

    public override string ToString() => Text.Trim().ReplaceLineEndings(" | ");

    /// <summary>Whether the bytes hold a whole reply: a status line, and after an error its reason line.</summary>
    internal static bool LooksComplete(ReadOnlySpan<byte> reply)
    {
        int firstLine = reply.IndexOf((byte)'\n');
        if (firstLine < 0) return false;
        return !reply.StartsWith("Status: Error"u8) || reply[(firstLine + 1)..].IndexOf((byte)'\n') >= 0;
    }

    public static LinphoneReply Parse(string text)
    {
        bool ok = false;
        string? reason = null;
        var fields = new List<KeyValuePair<string, string>>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0) continue;
            string key = line[..colon], value = line[(colon + 2)..].Trim();
            if (key == "Status") ok = value == "Ok";
            else if (key == "Reason") reason = value;
            else fields.Add(new(key, value));
        }
        return new LinphoneReply(ok, reason, fields, text);
    }
}

/// <summary>An event the daemon queued: its type (<c>call-state-changed</c>, …), the new state, the call's id, From.</summary>
public sealed record LinphoneEvent(string Type, string Event, string? Id, string? From)
{
    public override string ToString() => $"{Event} (call {Id})";
}

/// <summary>
/// One SIP message as linphone logged it: sent or received, the transport (<c>UDP</c>, <c>TCP</c>, <c>TLS</c>) and peer
/// of the channel, and the text (for received stream data: the bytes of one read, normally one whole message).
/// </summary>
public sealed record LinphoneSipMessage(bool Sent, string Transport, string Peer, string Text)
{
    /// <summary>The request or status line.</summary>
    public string StartLine => Text.Split('\n', 2)[0].TrimEnd('\r');

    /// <summary>The status code of a response (linphone writes "200 Ok"), null for a request.</summary>
    public int? Status =>
        StartLine.StartsWith("SIP/2.0 ", StringComparison.Ordinal) && StartLine.Length >= 11 &&
        int.TryParse(StartLine.AsSpan(8, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : null;

    /// <summary>The value of the first header of that name, or null (compact forms are not expanded).</summary>
    public string? Header(string name)
    {
        foreach (var raw in Text.Split('\n').Skip(1))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) break;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    /// <summary>The method of the CSeq header (<c>INVITE</c> for a reply to one).</summary>
    public string? CSeqMethod => Header("CSeq")?.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();

    /// <summary>The body after the blank line (the SDP of an offer or answer), or "".</summary>
    public string Body
    {
        get
        {
            var normal = Text.Replace("\r\n", "\n", StringComparison.Ordinal);
            int end = normal.IndexOf("\n\n", StringComparison.Ordinal);
            return end < 0 ? "" : normal[(end + 2)..].Trim('\n');
        }
    }

    /// <summary>The SDP lines of the body that start with <paramref name="prefix"/> (e.g. <c>m=audio</c>, <c>a=crypto:</c>).</summary>
    public IReadOnlyList<string> SdpLines(string prefix) => Body.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    public override string ToString() => $"{(Sent ? "sent" : "received")} over {Transport} {(Sent ? "to" : "from")} {Peer}: {StartLine}";
}

/// <summary>What oRTP counted for one audio stream when it stopped.</summary>
public sealed record LinphoneRtpStatistics(long PacketsSent, long PacketsReceived, long BytesDeliveredToApp, long BadFormatted)
{
    public override string ToString() => $"sent {PacketsSent} packets, received {PacketsReceived}, {BytesDeliveredToApp} bytes delivered, {BadFormatted} bad";
}

/// <summary>Reads linphone's debug log: belle-sip's message dumps and oRTP's statistics tables.</summary>
internal static class LinphoneLog
{
    /// <summary>
    /// belle-sip writes a sent message as <c>… message sent to [TLS://a:p], size: [n] bytes</c> and received data as
    /// <c>… received [n] new bytes from [TLS://a:p]:</c>, each followed by the raw text up to the next log line.
    /// </summary>
    public static IReadOnlyList<LinphoneSipMessage> SipMessages(string log)
    {
        var result = new List<LinphoneSipMessage>();
        var lines = log.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (!IsLogLine(line) || !line.Contains("belle-sip-message-", StringComparison.Ordinal)) continue;
            bool sent;
            int at = line.IndexOf("message sent to [", StringComparison.Ordinal);
            if (at >= 0)
            {
                sent = true;
                at += "message sent to [".Length;
            }
            else if (line.Contains("new bytes from [", StringComparison.Ordinal))
            {
                sent = false;
                at = line.IndexOf("new bytes from [", StringComparison.Ordinal) + "new bytes from [".Length;
            }
            else
            {
                continue;
            }
            int close = line.IndexOf(']', at);
            int scheme = line.IndexOf("://", at, StringComparison.Ordinal);
            if (close < 0 || scheme < 0 || scheme > close) continue;
            var transport = line[at..scheme];
            var peer = line[(scheme + 3)..close];
            var text = new StringBuilder();
            int j = i + 1;
            for (; j < lines.Length && !IsLogLine(lines[j]); j++) text.Append(lines[j].TrimEnd('\r')).Append('\n');
            result.Add(new LinphoneSipMessage(sent, transport, peer, text.ToString().TrimEnd('\n')));
            i = j - 1;
        }
        return result;
    }

    /// <summary>oRTP's "AUDIO SESSION'S RTP STATISTICS" tables, in the order the streams stopped.</summary>
    public static IReadOnlyList<LinphoneRtpStatistics> RtpStatistics(string log)
    {
        var result = new List<LinphoneRtpStatistics>();
        var lines = log.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].Contains("AUDIO SESSION'S RTP STATISTICS", StringComparison.Ordinal)) continue;
            long sent = -1, received = -1, delivered = -1, bad = -1;
            for (int j = i + 1; j < lines.Length && j < i + 20; j++)
            {
                int at = lines[j].IndexOf("ortp-message-", StringComparison.Ordinal);
                if (at < 0) break;
                var text = lines[j][(at + "ortp-message-".Length)..].Trim();
                if (text.StartsWith("====", StringComparison.Ordinal) && sent >= 0) break;
                // "received   295 packets", "incoming delivered to the app   18102 bytes"; continuation rows have no label.
                var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length < 3 || !long.TryParse(words[^2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) continue;
                switch (string.Join(' ', words[..^2]), words[^1])
                {
                    case ("sent", "packets"):
                        sent = n;
                        break;
                    case ("received", "packets"):
                        received = n;
                        break;
                    case ("incoming delivered to the app", "bytes"):
                        delivered = n;
                        break;
                    case ("incoming bad formatted", "packets"):
                        bad = n;
                        break;
                }
            }
            result.Add(new LinphoneRtpStatistics(sent, received, delivered, bad));
        }
        return result;
    }

    /// <summary>A line that starts a log record: <c>2026-12-01 21:09:34:940 </c>.</summary>
    private static bool IsLogLine(string line) =>
        line.Length > 24 && char.IsAsciiDigit(line[0]) && line[4] == '-' && line[7] == '-' && line[10] == ' ' && line[13] == ':' && line[16] == ':' && line[19] == ':' && line[23] == ' ';
}
