using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.Testing.Phones;

/// <summary>
/// Where a phone runs: its own address, and the network namespace that holds it (null: the test's own, where the
/// address is normally 127.0.0.1).
/// </summary>
/// <remarks>
/// <paramref name="ReachControl"/> is for a host the test cannot reach directly (behind a NAT router): given the
/// ctrl_tcp port, it opens a way there (a port forward) and returns the address to connect to.
/// </remarks>
public sealed record PhoneHost(string Address, string? Namespace, Func<int, string>? ReachControl = null)
{
    public static PhoneHost Loopback { get; } = new("127.0.0.1", null);
}

/// <summary>
/// A real baresip 1.0.0 softphone (Debian baresip-core), headless: SIP on a port of its host's address (loopback, or
/// inside a network namespace), audio from a WAV file or a sine, received audio recorded to WAV, driven through its
/// ctrl_tcp interface (netstring JSON).
/// </summary>
public sealed class Baresip : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TcpClient _ctrl;
    private readonly NetworkStream _stream;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _responses = new();
    private readonly List<JsonObject> _events = [];
    private readonly SemaphoreSlim _eventSignal = new(0);
    private readonly Dictionary<string, (long Length, DateTime Written)> _oldRecordings = [];
    private readonly Task _reader;
    private int _token;

    private Baresip(string name, string dir, int sipPort, Process process, TcpClient ctrl)
    {
        Name = name;
        Directory = dir;
        SipPort = sipPort;
        _process = process;
        _ctrl = ctrl;
        _stream = ctrl.GetStream();
        _reader = Task.Run(ReadLoopAsync);
    }

    public string Name { get; }

    public string Directory { get; }

    public int SipPort { get; }

    public string RecordingDirectory => Path.Combine(Directory, "rec");

    /// <summary>
    /// Starts a phone. <paramref name="account"/> is baresip's account line, e.g.
    /// <c>&lt;sip:100@127.0.0.1:5060&gt;;auth_pass=secret;answermode=manual;regint=600</c>.
    /// <paramref name="source"/> is <c>tone:440</c> (a WAV played in a loop), <c>sine:1000</c> or <c>file:/path.wav</c>. On a
    /// <paramref name="host"/> inside a network namespace the phone is started with <c>ip netns exec</c> and binds SIP,
    /// RTP and ctrl_tcp to the namespace's address (which the test reaches over the veth link). <paramref name="codecs"/>
    /// are the codec modules to load, in the order the phone offers them (default <c>g711.so</c>; Debian's baresip-core
    /// also ships <c>g722.so</c> and <c>opus.so</c>).
    /// </summary>
    /// <param name="extraConfig">Further config lines (e.g. <c>module srtp.so</c>, <c>sip_cafile …</c>), appended as given.</param>
    public static async Task<Baresip> StartAsync(string name, string workDir, string account, string source, PhoneHost? host = null, IEnumerable<string>? extraConfig = null, IReadOnlyList<string>? codecs = null)
    {
        host ??= PhoneHost.Loopback;
        if (!File.Exists("/usr/bin/baresip")) throw new InvalidOperationException("baresip is not installed (Debian package baresip-core; scripts/test.sh installs it)");
        int block = Ports.Block(24);
        int sipPort = block, ctrlPort = block + 2, rtpFrom = block + 4;
        var dir = System.IO.Directory.CreateDirectory(Path.Combine(workDir, name)).FullName;
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "rec"));
        string audioSource;
        string extra = "";
        var kind = source.Split(':');
        if (kind[0] == "tone")
        {
            var wav = Path.Combine(dir, "tone.wav");
            Audio.WriteTone(wav, double.Parse(kind[1], CultureInfo.InvariantCulture));
            audioSource = "aufile," + wav;
        }
        else if (kind[0] == "file")
        {
            // A WAV the test wrote, played as it is (aufile wants the codec's own rate: 16 kHz for G.722).
            audioSource = "aufile," + source[5..];
        }
        else
        {
            audioSource = "ausine," + kind[1];
            extra = "ausrc_srate\t\t48000\nausrc_channels\t\t2\n";
        }
        File.WriteAllText(Path.Combine(dir, "config"), $"""
            poll_method		epoll
            sip_listen		{host.Address}:{sipPort}
            net_interface		{host.Address}
            call_local_timeout	120
            call_max_calls		4
            audio_source		{audioSource}
            {extra}audio_buffer		20-160
            rtp_ports		{rtpFrom}-{rtpFrom + 19}
            rtcp_mux		no
            jitter_buffer_delay	5-10
            module_path		/usr/lib/baresip/modules
            {string.Join("", (codecs ?? ["g711.so"]).Select(m => $"module\t\t\t{m}\n"))}module			aufile.so
            module			ausine.so
            module			sndfile.so
            module_tmp		account.so
            module_app		menu.so
            module_app		ctrl_tcp.so
            ctrl_tcp_listen		{host.Address}:{ctrlPort}
            snd_path		{dir}/rec
            statmode_default	off

            """ + string.Concat((extraConfig ?? []).Select(l => l + "\n")));
        File.WriteAllText(Path.Combine(dir, "accounts"), account + "\n");
        File.WriteAllText(Path.Combine(dir, "contacts"), "");

        // ip netns exec execs baresip in place, so the process (and its pid for Kill) is baresip itself.
        var psi = host.Namespace is null
            ? new ProcessStartInfo("baresip")
            : new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", host.Namespace, "baresip" } };
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        foreach (var a in new[] { "-s", "-f", dir }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var log = new StreamWriter(Path.Combine(dir, "baresip.log")) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();

        var controlAddress = host.ReachControl?.Invoke(ctrlPort) ?? host.Address;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var client = new TcpClient();
            try
            {
                await client.ConnectAsync(controlAddress, ctrlPort);
                return new Baresip(name, dir, sipPort, p, client);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !p.HasExited)
            {
                client.Dispose();
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Sends a ctrl_tcp command and returns its response.</summary>
    public async Task<JsonObject> CommandAsync(string command, string? parameters = null)
    {
        var token = $"{Name}-{Interlocked.Increment(ref _token)}";
        var req = new JsonObject { ["command"] = command, ["token"] = token };
        if (parameters is not null) req["params"] = parameters;
        var json = Encoding.UTF8.GetBytes(req.ToJsonString());
        var tcs = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _responses[token] = tcs;
        var frame = Encoding.ASCII.GetBytes(json.Length.ToString(CultureInfo.InvariantCulture) + ":").Concat(json).Append((byte)',').ToArray();
        try
        {
            await _stream.WriteAsync(frame);
            return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or IOException)
        {
            _responses.TryRemove(token, out _);
            var state = _process.HasExited ? $"baresip exited ({_process.ExitCode})" : "baresip is running";
            throw new TimeoutException($"{Name}: no answer to the ctrl_tcp command '{command}' ({ex.Message}; {state}); end of its log:\n{LogTail()}", ex);
        }
    }

    /// <summary>
    /// The RTP view of the phone's current call (ctrl_tcp <c>audio_debug</c>): local and remote RTP ports, its own SSRC,
    /// and packets received per remote SSRC. After a re-INVITE baresip no longer records what it receives, so calls
    /// that were re-pointed are checked by who sends to whom and by these counters.
    /// </summary>
    public async Task<RtpView> RtpAsync()
    {
        var text = (string?)(await CommandAsync("audio_debug"))["data"] ?? "";
        int local = 0, remote = 0;
        uint ssrc = 0;
        string direction = "";
        var received = new Dictionary<uint, long>();
        uint? member = null;
        int seqPut = -1;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("local:", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                local = PortOf(parts[1].TrimEnd(','));
                remote = PortOf(parts[3].Split('/')[0]);
            }
            else if (line.StartsWith("Encode:", StringComparison.Ordinal))
            {
                ssrc = Hex(line[(line.IndexOf("ssrc=", StringComparison.Ordinal) + 5)..]);
            }
            else if (line.StartsWith("audio dir=", StringComparison.Ordinal))
            {
                direction = line.Split(' ')[1][4..];
            }
            else if (line.StartsWith("member ", StringComparison.Ordinal))
            {
                member = Hex(line[7..line.IndexOf(':', StringComparison.Ordinal)]);
            }
            else if (line.StartsWith("seq_put=", StringComparison.Ordinal))
            {
                seqPut = int.Parse(line[8..], CultureInfo.InvariantCulture);
            }
            else if (member is { } m && line.Contains("rcvd=", StringComparison.Ordinal))
            {
                received[m] = long.Parse(line[(line.IndexOf("rcvd=", StringComparison.Ordinal) + 5)..].Split(' ')[0], CultureInfo.InvariantCulture);
                member = null;
            }
        }
        return new RtpView(local, remote, ssrc, direction, received, seqPut);

        static int PortOf(string endPoint) => int.Parse(endPoint[(endPoint.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        static uint Hex(string s) => uint.Parse(s.Trim().Replace("0x", "", StringComparison.Ordinal), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    /// <summary>Waits for the next event of the given type (events seen earlier by another wait are not re-delivered).</summary>
    public async Task<JsonObject> WaitEventAsync(string type, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            lock (_events)
            {
                int i = _events.FindIndex(e => (string?)e["type"] == type);
                if (i >= 0)
                {
                    var e = _events[i];
                    _events.RemoveRange(0, i + 1);
                    return e;
                }
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                string seen;
                lock (_events) seen = string.Join(", ", _events.Select(e => (string?)e["type"]));
                throw new TimeoutException($"{Name}: no {type} event (pending: {seen}); end of baresip log:\n{LogTail()}");
            }
            await _eventSignal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Forgets every event received so far, so that a following wait sees only what happens next.</summary>
    public void DiscardEvents()
    {
        lock (_events) _events.Clear();
    }

    /// <summary>
    /// Treats every recording made so far as old: <see cref="LastReceived"/> then reads only calls that start later,
    /// so a phone reused for several calls is never judged by an earlier call's audio.
    /// </summary>
    public void ForgetRecordings()
    {
        lock (_oldRecordings)
            foreach (var f in System.IO.Directory.GetFiles(RecordingDirectory, "*-dec.wav")) _oldRecordings[f] = Stamp(f);
    }

    // sndfile names recordings by the second a call starts, so a later call can reuse an old name: a file counts as
    // old only while it is unchanged.
    private static (long, DateTime) Stamp(string file) => (new FileInfo(file).Length, File.GetLastWriteTimeUtc(file));

    /// <summary>The recordings on disk, for failure messages.</summary>
    public string RecordingList() =>
        string.Join(", ", System.IO.Directory.GetFiles(RecordingDirectory).Select(f => $"{Path.GetFileName(f)} ({new FileInfo(f).Length} bytes)"));

    /// <summary>What this phone received in its newest call since <see cref="ForgetRecordings"/>: level and dominant frequency.</summary>
    public ReceivedAudio? LastReceived()
    {
        string? file;
        lock (_oldRecordings)
            file = System.IO.Directory.GetFiles(RecordingDirectory, "*-dec.wav")
                .Where(f => !_oldRecordings.TryGetValue(f, out var old) || old != Stamp(f)).OrderBy(File.GetLastWriteTimeUtc).LastOrDefault();
        if (file is null) return null;
        var (samples, rate) = Audio.Read(file);
        return new ReceivedAudio(file, samples, rate, Audio.Rms(samples), Audio.DominantFrequency(samples, rate));
    }

    /// <summary>The last lines of the phone's log (SIP trace included), for failure messages.</summary>
    public string LogTail(int lines = 60)
    {
        try
        {
            using var f = new FileStream(Path.Combine(Directory, "baresip.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var all = new StreamReader(f).ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The dominant frequency of what this phone received (its newest "-dec" recording).</summary>
    public int ReceivedFrequency()
    {
        var file = System.IO.Directory.GetFiles(RecordingDirectory, "*-dec.wav").OrderBy(File.GetLastWriteTimeUtc).LastOrDefault()
            ?? throw new InvalidOperationException($"{Name} recorded nothing");
        var (samples, rate) = Audio.Read(file);
        return Audio.DominantFrequency(samples, rate);
    }

    /// <summary>Asserts that at some moment this phone's recording held all of <paramref name="expected"/> and not <paramref name="own"/>.</summary>
    public void AssertHeardTogether(double[] expected, double own)
    {
        var file = System.IO.Directory.GetFiles(RecordingDirectory, "*-dec.wav").OrderBy(File.GetLastWriteTimeUtc).LastOrDefault()
            ?? throw new InvalidOperationException($"{Name} recorded nothing");
        var (samples, rate) = Audio.Read(file);
        if (!Audio.HeardTogether(samples, rate, expected, own, out var description))
            throw new Xunit.Sdk.XunitException($"{Name} never heard {string.Join(" and ", expected)} Hz together without its own {own} Hz:\n{description}");
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new List<byte>();
        var chunk = new byte[65536];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(chunk);
                if (n == 0) return;
                buffer.AddRange(chunk.AsSpan(0, n).ToArray());
                while (true)
                {
                    int colon = buffer.IndexOf((byte)':');
                    if (colon < 0) break;
                    int len = int.Parse(Encoding.ASCII.GetString(buffer.GetRange(0, colon).ToArray()), CultureInfo.InvariantCulture);
                    if (buffer.Count < colon + 1 + len + 1) break;
                    var json = Encoding.UTF8.GetString(buffer.GetRange(colon + 1, len).ToArray());
                    buffer.RemoveRange(0, colon + 1 + len + 1);
                    var msg = JsonNode.Parse(json)!.AsObject();
                    if (msg["response"] is not null && msg["token"] is JsonNode t && _responses.TryRemove((string)t!, out var tcs)) tcs.TrySetResult(msg);
                    else if (msg["event"] is not null)
                    {
                        lock (_events) _events.Add(msg);
                        _eventSignal.Release();
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or JsonException or FormatException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await CommandAsync("quit").WaitAsync(cts.Token);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
        _ctrl.Dispose();
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }
}

/// <summary>
/// What a phone's RTP stream looks like: its ports, its SSRC, the negotiated direction, packets received per remote
/// SSRC, and the sequence number its jitter buffer last accepted (it moves only while received audio is played).
/// </summary>
public sealed record RtpView(int LocalPort, int RemotePort, uint Ssrc, string Direction, IReadOnlyDictionary<uint, long> Received, int JitterSeqPut)
{
    /// <summary>Packets received from the given sender's SSRC.</summary>
    public long From(RtpView sender) => Received.GetValueOrDefault(sender.Ssrc);
}

/// <summary>One recording of what a phone received: its samples, level (RMS) and strongest frequency.</summary>
public sealed record ReceivedAudio(string File, short[] Samples, int Rate, double Rms, int Frequency)
{
    /// <summary>"silence (rms 2)", "1000 Hz (rms 8123)": what a listener would say it heard.</summary>
    public override string ToString() => Rms < 100 ? $"silence (rms {Rms:0})" : $"{Frequency} Hz (rms {Rms:0})";
}
