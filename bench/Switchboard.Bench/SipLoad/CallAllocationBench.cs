using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transport;
using Switchboard.Switch;
using Switchboard.Telephony;

namespace Switchboard.Bench.SipLoad;

/// <summary>
/// Bytes allocated per CTI call, in process: a real <see cref="SipSwitch"/> (with the media engine, no journal on disk)
/// over the in-memory SIP transport, two hand-written auto-answering phones on the same in-memory network, one MakeCall
/// after another; the destination hangs up as soon as it has its ACK. GC.GetTotalAllocatedBytes over the measured calls,
/// minus what the phones themselves allocate (their parsing and replies, measured by replaying one call's messages
/// through the same phone code), divided by the calls.
/// </summary>
internal static class CallAllocationBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int calls = Opt(args, "--calls", 2_000);
        int warmup = Opt(args, "--warmup", 200);
        // at-ack: the destination hangs up the moment its ACK arrives (the race of issue 12); connected: once the switch
        // shows both parties connected, so every call ends and the allocation figure is of whole calls.
        bool atAck = Opt(args, "--hangup", "connected") == "at-ack";
        // --trace 1: the phones keep their last messages, printed for a stuck call (off by default: it allocates).
        bool trace = Opt(args, "--trace", 0) != 0;
        // --types N: the N types that allocate most over the measured calls, from the runtime's AllocationSampled events
        // (about one per 100 KiB). The sampler allocates too, so the per-call figure is to be taken from a run without it.
        int types = Opt(args, "--types", 0);
        var media = types > 0 ? await MediaObjectsAsync() : default;
        var network = new InMemorySipNetwork();
        var server = new IPEndPoint(IPAddress.Loopback, 5060);
        var options = new SwitchOptions
        {
            ListenAddress = "127.0.0.1",
            KeepAliveInterval = TimeSpan.Zero,
            Devices = ["100", "101"],
            Passwords = new() { ["100"] = "pw100", ["101"] = "pw101" },
        };
        var model = new CallModel(options.Devices, new CallEventHub());
        var stores = new MemoryPhoneStores();
        await using var sw = new SipSwitch(options, model, stores, stores, transport: new InMemorySipTransport(network, server));
        sw.Start();
        await using var caller = new AutoAnswerPhone(network, "127.0.1.1", "100", "pw100", server, hangUp: false);
        await using var callee = new AutoAnswerPhone(network, "127.0.1.2", "101", "pw101", server, hangUp: atAck);
        caller.Tracing = callee.Tracing = trace;
        await caller.RegisterAsync();
        await callee.RegisterAsync();

        int stuck = 0;
        async Task WaitAsync(Func<bool> done, string what)
        {
            var wait = Stopwatch.StartNew();
            while (!done())
            {
                if (wait.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException(what);
                await Task.Yield();
            }
        }
        bool Idle() => model.ConnectionsOf("100").Count == 0 && model.ConnectionsOf("101").Count == 0;
        async Task OneCallAsync()
        {
            var made = await sw.MakeCallAsync("100", "101");
            if (!made.IsSuccess) throw new InvalidOperationException(made.Message);
            if (!atAck)
            {
                await WaitAsync(() => model.FirstInState("101", ConnectionState.Connected) is not null
                    && model.FirstInState("100", ConnectionState.Connected) is not null, "the call was not connected");
                // A millisecond after the switch shows both connected (at-ack hangs up earlier, before the switch may have
                // finished the answer).
                await Task.Delay(1);
                // The switch shows the call connected once it has sent the destination's ACK, which the phone may not
                // have read yet: it hangs up the call it answered, not the one before (that BYE would get 481).
                await WaitAsync(() => callee.HasAckOfAnsweredCall, "the destination got no ACK");
                callee.HangUp();
            }
            if (!await caller.Ended.WaitAsync(TimeSpan.FromSeconds(2)))
            {
                // Stuck: the destination hung up and nothing ended the call. Dropped by hand to go on.
                stuck++;
                if (trace) Console.WriteLine($"stuck call {made.Message}; model: 100 {string.Join(",", model.ConnectionsOf("100").Select(c => c.Call.Id + ":" + c.State))} 101 {string.Join(",", model.ConnectionsOf("101").Select(c => c.Call.Id + ":" + c.State))}");
                if (trace) foreach (var line in caller.Trace.Concat(callee.Trace).Order()) Console.WriteLine("  " + line);
                await sw.DropAsync("100");
                await caller.Ended.WaitAsync(TimeSpan.FromSeconds(10));
            }
            // The call model clears the call after the BYE's 200; the next MakeCall must find 100 idle.
            await WaitAsync(Idle, "the call did not clear");
        }

        for (int i = 0; i < warmup; i++) await OneCallAsync();
        caller.Record = callee.Record = true;
        await OneCallAsync();
        caller.Record = callee.Record = false;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var sampler = types > 0 ? new AllocationSampler() : null;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var time = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++) await OneCallAsync();
        time.Stop();
        long total = GC.GetTotalAllocatedBytes(precise: true) - before;
        sampler?.Dispose();

        // The phones' share: the same work on one call's recorded messages, repeated as often.
        long phonesBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < calls; i++)
        {
            caller.Replay();
            callee.Replay(hangUp: !atAck);
        }
        long phones = GC.GetTotalAllocatedBytes(precise: true) - phonesBefore;
        double perCall = (total - phones) / (double)calls;
        Console.WriteLine($"CTI call allocation (in process, in-memory SIP transport, media engine on): {calls} MakeCalls after {warmup} warm-up, " +
            $"{calls / time.Elapsed.TotalSeconds:F0} calls/s one at a time");
        Console.WriteLine($"  SIP messages per call: {caller.RecordedCount + callee.RecordedCount} at the phones");
        Console.WriteLine($"  allocated: {total / (double)calls / 1024:F1} KiB per call in all, of which the two fake phones {phones / (double)calls / 1024:F1} KiB");
        Console.WriteLine($"bytes allocated per CTI call by the switch: {perCall:F0} ({perCall / 1024:F1} KiB)");
        Console.WriteLine($"stuck calls (the destination hung up {(atAck ? "at its ACK" : "once connected")}, the caller got no BYE within 2 s; dropped by hand): {stuck} of {warmup + 1 + calls}");
        if (sampler is not null)
        {
            Console.WriteLine($"  top allocating types over the measured calls (sampled, bytes per call; phones and sampler included, {sampler.Sampled / (double)calls / 1024:F1} KiB per call sampled):");
            foreach (var (type, bytes) in sampler.Top(types)) Console.WriteLine($"    {bytes / (double)calls,9:F0}  {type}");
            Console.WriteLine($"  media objects alone (created and closed 200 times, no call around them): an RTP endpoint {media.Endpoint:F0} bytes, " +
                $"a conference with two members {media.Room:F0} bytes; a MakeCall between extensions has two endpoints and one conference");
        }
        return 0;
    }

    /// <summary>What an RTP endpoint and a two-member conference allocate by themselves, from creation to close.</summary>
    private static async Task<(double Endpoint, double Room)> MediaObjectsAsync()
    {
        const int n = 200;
        await using var engine = new Switchboard.Media.MediaEngine(new Switchboard.Media.MediaEngineOptions());
        for (int i = 0; i < 20; i++) await (engine.CreateEndpoint()).DisposeAsync();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < n; i++) await (engine.CreateEndpoint()).DisposeAsync();
        double endpoint = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)n;
        var x = new Switchboard.Media.RtpEndpoint[n];
        var y = new Switchboard.Media.RtpEndpoint[n];
        for (int i = 0; i < n; i++) (x[i], y[i]) = (engine.CreateEndpoint(), engine.CreateEndpoint());
        before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < n; i++)
        {
            var room = engine.CreateConference();
            room.Add(x[i]);
            room.Add(y[i]);
            await room.DisposeAsync();
        }
        double conference = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)n;
        for (int i = 0; i < n; i++)
        {
            await x[i].DisposeAsync();
            await y[i].DisposeAsync();
        }
        return (endpoint, conference);
    }

    /// <summary>
    /// Sums the runtime's randomized allocation samples (.NET 10's AllocationSampled event: each allocated byte is
    /// equally likely to be sampled, one in about 100 KiB, so unlike AllocationTick small objects are not undercounted)
    /// by type; a sample of an object of size s stands for s / (1 - e^(-s/100 KiB)) bytes.
    /// </summary>
    private sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
    {
        private const double Mean = 100 * 1024;
        private readonly Dictionary<string, double> _bytes = [];
        private double _sampled;

        public double Sampled
        {
            get
            {
                lock (_bytes) return _sampled;
            }
        }

        public List<(string Type, double Bytes)> Top(int n)
        {
            lock (_bytes) return [.. _bytes.OrderByDescending(kv => kv.Value).Take(n).Select(kv => (kv.Key, kv.Value))];
        }

        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            // The AllocationSampling keyword (0x80000000000) of the runtime's provider.
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Informational, (System.Diagnostics.Tracing.EventKeywords)0x80000000000);
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName != "AllocationSampled" || e.PayloadNames is null) return;
            int size = e.PayloadNames.IndexOf("ObjectSize");
            int type = e.PayloadNames.IndexOf("TypeName");
            if (size < 0 || type < 0) return;
            double s = Convert.ToDouble(e.Payload![size], CultureInfo.InvariantCulture);
            double bytes = s / (1 - Math.Exp(-s / Mean));
            var name = e.Payload[type] as string ?? "?";
            lock (_bytes)
            {
                _bytes[name] = _bytes.GetValueOrDefault(name) + bytes;
                _sampled += bytes;
            }
        }
    }

    private static T Opt<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>Bindings and secrets in memory: the bench measures the call path, not SQLite.</summary>
    private sealed class MemoryPhoneStores : IPhoneBindingStore, IDeviceSecretStore
    {
        private readonly Dictionary<string, DeviceCredential> _secrets = [];

        public IReadOnlyList<PhoneBinding> LoadBindings() => [];

        public void SaveBinding(PhoneBinding binding)
        {
        }

        public void RemoveBinding(string device, string? contact)
        {
        }

        public DeviceCredential? GetCredential(string device)
        {
            lock (_secrets) return _secrets.GetValueOrDefault(device);
        }

        public void SetCredential(string device, DeviceCredential credential)
        {
            lock (_secrets) _secrets[device] = credential;
        }

        public bool ClearPending(string device)
        {
            lock (_secrets)
            {
                if (_secrets.GetValueOrDefault(device) is not { PendingPassword: not null } c) return false;
                _secrets[device] = c with { PendingPassword = null };
                return true;
            }
        }

        public IReadOnlyDictionary<string, DeviceCredential> AllCredentials()
        {
            lock (_secrets) return new Dictionary<string, DeviceCredential>(_secrets);
        }

        public IReadOnlyDictionary<string, string> LegacyPasswords() => new Dictionary<string, string>();

        public void RemoveLegacy(string device)
        {
        }
    }

    /// <summary>
    /// A fake phone (in-memory, no RTP): answers every INVITE with 200 and an SDP, every other request with 200; with
    /// <c>hangUp</c> it sends BYE as soon as the first ACK of a call arrives.
    /// </summary>
    private sealed class AutoAnswerPhone : IAsyncDisposable
    {
        private readonly InMemoryDatagramSocket _socket;
        private readonly string _device;
        private readonly string _password;
        private readonly IPEndPoint _server;
        private readonly bool _hangUp;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly List<byte[]> _recorded = [];
        private readonly byte[] _sdp;
        private TaskCompletionSource<SipResponse>? _registering;
        private volatile SipRequest? _lastAck;
        private volatile string? _answeredCallId;
        private int _cseq = 10;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _trace = new();
        private static readonly Stopwatch Clock = Stopwatch.StartNew();

        public bool Tracing { get; set; }

        /// <summary>True once the ACK of the call this phone answered last has arrived.</summary>
        public bool HasAckOfAnsweredCall => _answeredCallId is { } id && _lastAck?.CallId == id;

        private void Note(string what)
        {
            if (!Tracing) return;
            _trace.Enqueue($"{Clock.Elapsed.TotalMilliseconds,10:F3} {_device} {what}");
            while (_trace.Count > 30) _trace.TryDequeue(out _);
        }

        public string[] Trace => [.. _trace];

        public AutoAnswerPhone(InMemorySipNetwork network, string address, string device, string password, IPEndPoint server, bool hangUp)
        {
            _socket = network.Bind(address);
            _device = device;
            _password = password;
            _server = server;
            _hangUp = hangUp;
            _sdp = Encoding.ASCII.GetBytes($"v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
            _loop = ReceiveLoopAsync();
        }

        public SemaphoreSlim Ended { get; } = new(0);

        public bool Record { get; set; }

        public int RecordedCount => _recorded.Count;

        public async Task RegisterAsync()
        {
            SipRequest Build()
            {
                var r = new SipRequest("REGISTER", $"sip:{_server}");
                r.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {_socket.LocalEndPoint};branch=z9hG4bK{Guid.NewGuid():N};rport");
                r.Add(SipHeaderNames.From, $"<sip:{_device}@{_server.Address}>;tag=reg");
                r.Add(SipHeaderNames.To, $"<sip:{_device}@{_server.Address}>");
                r.Add(SipHeaderNames.CallId, "reg-" + _device);
                r.Add(SipHeaderNames.CSeq, $"{++_cseq} REGISTER");
                r.Add(SipHeaderNames.Contact, $"<sip:{_device}@{_socket.LocalEndPoint}>");
                r.Add(SipHeaderNames.Expires, "3600");
                return r;
            }
            var challenge = await ExchangeAsync(Build());
            var second = Build();
            if (!DigestClient.Answer(challenge, second, _device, _password)) throw new InvalidOperationException("no digest challenge");
            var ok = await ExchangeAsync(second);
            if (ok.StatusCode != 200) throw new InvalidOperationException($"REGISTER {_device}: {ok.StatusCode}");
        }

        private async Task<SipResponse> ExchangeAsync(SipRequest request)
        {
            _registering = new TaskCompletionSource<SipResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            _socket.SendTo(request.ToBytes(), _server);
            return await _registering.Task.WaitAsync(TimeSpan.FromSeconds(5));
        }

        /// <summary>Does again, without sending, what the phone did for the recorded call's messages.</summary>
        public void Replay(bool hangUp = false)
        {
            foreach (var datagram in _recorded) Handle(datagram, send: false);
            if (hangUp && _lastAck is not null) SendBye(_lastAck, send: false);
        }

        /// <summary>Hangs up the call whose ACK came last.</summary>
        public void HangUp() => SendBye(_lastAck ?? throw new InvalidOperationException("no call to hang up"), send: true);

        private void SendBye(SipRequest ack, bool send)
        {
            var bye = new SipRequest("BYE", ack.From.Uri);
            bye.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {_socket.LocalEndPoint};branch=z9hG4bK{Guid.NewGuid():N};rport");
            bye.Add(SipHeaderNames.From, ack[SipHeaderNames.To]!);
            bye.Add(SipHeaderNames.To, ack[SipHeaderNames.From]!);
            bye.Add(SipHeaderNames.CallId, ack.CallId);
            bye.Add(SipHeaderNames.CSeq, "1 BYE");
            bye.Add(SipHeaderNames.MaxForwards, "70");
            var bytes = bye.ToBytes();
            if (send)
            {
                Note($"-> BYE {ack.CallId}");
                _socket.SendTo(bytes, _server);
            }
        }

        private async Task ReceiveLoopAsync()
        {
            while (true)
            {
                byte[] datagram;
                try
                {
                    (datagram, _) = await _socket.ReceiveFromAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (Record) _recorded.Add(datagram);
                Handle(datagram, send: true);
            }
        }

        private void Handle(byte[] datagram, bool send)
        {
            if (SipParser.Parse(datagram, true, SipParserLimits.Default, out var m, out _, out _) != SipParseStatus.Complete) return;
            if (send && Tracing) Note(m is SipResponse rs ? $"<- {rs.StatusCode} {rs.CSeq.Method} {rs.CallId}" : $"<- {((SipRequest)m!).Method} {m!.CallId} to-tag={((SipRequest)m).To.Tag}");
            if (m is SipResponse response)
            {
                if (send && response.CSeq.Method == "REGISTER" && response.StatusCode >= 200) _registering?.TrySetResult(response);
                return;
            }
            var request = (SipRequest)m!;
            switch (request.Method)
            {
                case "ACK":
                    if (request.To.Tag == "answered")
                    {
                        _lastAck = request;
                        if (_hangUp) SendBye(request, send);
                    }
                    return;
                case "INVITE":
                    {
                        if (send && request.To.Tag is null) _answeredCallId = request.CallId;
                        var ok = SipResponse.For(request, 200, toTag: request.To.Tag is null ? "answered" : null);
                        ok.Add(SipHeaderNames.Contact, $"<sip:{_device}@{_socket.LocalEndPoint}>");
                        ok.Add(SipHeaderNames.ContentType, "application/sdp");
                        ok.Body = _sdp;
                        var bytes = ok.ToBytes();
                        if (send) _socket.SendTo(bytes, _server);
                        return;
                    }
                default:
                    {
                        var bytes = SipResponse.For(request, 200).ToBytes();
                        if (send)
                        {
                            _socket.SendTo(bytes, _server);
                            if (request.Method == "BYE") Ended.Release();
                        }
                        return;
                    }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _socket.Dispose();
            await _loop;
        }
    }
}
