using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchboard.Media.Codecs;
using Switchboard.Media.Dtmf;
using Switchboard.Media.Jitter;
using Switchboard.Media.Rtp;

namespace Switchboard.Media;

/// <summary>
/// One RTP stream pair on its own UDP socket. As a member of a two-party <see cref="Conference"/> it relays each packet
/// from its phone to the other member as it arrives; in a mixing conference it decodes into a jitter buffer and sends
/// one packet (G.711, G.722 or Opus) per 20 ms tick. Either way it sends one continuous stream (its own SSRC, sequence numbers and
/// timestamps) and detects RFC 4733 DTMF. Symmetric RTP: it sends to where its phone's packets come from.
/// </summary>
/// <remarks>
/// Latching: the first packet of a negotiated payload type after <see cref="SetRemote"/> fixes the source; packets
/// from any other source are dropped (RTP injection) until the latched source has been silent for
/// <see cref="MediaEngineOptions.RelatchAfterMilliseconds"/> and another source sends the latched SSRC (a NAT mapping
/// that moved). A new SDP (<see cref="SetRemote"/>) starts learning afresh. No per-source state is kept.
/// </remarks>
public sealed partial class RtpEndpoint : IAsyncDisposable
{
    /// <summary>Largest datagram read; anything longer is no G.711 packet of 20 ms and is counted as bad.</summary>
    public const int MaxDatagramSize = 1500;

    /// <summary>Audio packets that open a stream with sequence numbers a quarter of the space apart (see NextAudioSequence).</summary>
    public const int SequenceProbes = 4;

    /// <summary>At most this many relayed digits wait to be sent; more are dropped (a flood, not a person dialling).</summary>
    public const int MaxQueuedDigits = 32;

    // Frames of the mixer's clock, in samples of an 8 kHz clock: the unit of DTMF durations inside the engine.
    private const int FrameSamples = JitterBuffer.FrameSamples;
    private const int NarrowbandClock = 8000;
    private const byte DtmfVolume = 10;

    // A relayed source whose numbering jumps further than this (RFC 3550 A.1's MAX_DROPOUT / MAX_MISORDER) has
    // restarted: the outgoing stream then continues by one instead of copying the jump.
    private const int MaxRelayDropout = 3000;
    private const int MaxRelayMisorder = 100;

    // Relayed digits last as long as the original, within these bounds (in samples: 60 ms .. 2 s).
    private const int MinDtmfDuration = 480;
    private const int MaxDtmfDuration = 16000;

    private readonly MediaEngine _engine;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly JitterBuffer _jitter;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private readonly ulong? _registration;

    // Receive loop only.
    // Taken on the first packet decoded (mixing); relayed packets are never decoded.
    private short[]? _decoded;
    private uint _latchedSsrc;
    private long _latchedHeardAt;
    private bool _foreignLogged;
    private bool _haveLastDtmf;
    private uint _lastDtmfTimestamp;
    private uint _lastDtmfSsrc;

    // The outgoing stream, guarded by _sendGate: fed by the clock thread (mixing) or by the partner's receive loop
    // (relaying), and handed from one to the other without a jump in its numbering or timeline.
    private readonly Lock _sendGate = new();
    private readonly byte[] _packet = new byte[RtpPacket.FixedHeaderSize + MaxDatagramSize];
    private readonly byte[] _encoded = new byte[AudioTranscoder.MaxPayloadBytes];
    private readonly uint _ssrc;
    private ushort _sequence;
    private uint _timestamp;
    private bool _sentFirst;
    private int _probesSent;
    private bool _haveSent;
    private uint _lastMediaTimestamp;
    private long _lastSentAt;
    private bool _clocked;
    private bool _relaySynced;
    private uint _relaySourceSsrc;
    private ushort _relaySourceSequence;
    private uint _relayTimestampOffset;
    private bool _dtmfActive;
    private byte _dtmfEvent;
    private uint _dtmfTimestamp;
    private int _dtmfElapsed;
    private int _dtmfTarget;

    // Guarded by _gate.
    private readonly Queue<(byte Event, ushort Duration)> _dtmfQueue = new();
    private Conference? _conference;
    private bool _disposed;

    // Set by the conference (under its lock): the member this endpoint's packets are relayed to, if relaying.
    private volatile RtpEndpoint? _relayTo;
    private volatile Remote? _remote;
    private long _packetsReceived;
    private long _packetsSent;
    private long _badPackets;
    private long _ignoredPackets;
    private long _foreignPackets;
    private long _relayedPackets;
    private long _sendErrors;

    internal RtpEndpoint(MediaEngine engine, Socket socket, int playoutDelayFrames, ILogger logger)
    {
        _engine = engine;
        _socket = socket;
        _logger = logger;
        _jitter = new JitterBuffer(playoutDelayFrames);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _ssrc = (uint)Random.Shared.NextInt64(1, uint.MaxValue);
        _sequence = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
        _timestamp = (uint)Random.Shared.NextInt64(uint.MaxValue + 1L);
        if (engine.Poller is { } poller)
        {
            _receiveLoop = Task.CompletedTask;
            _registration = poller.Add(this, socket);
        }
        else
        {
            _receiveLoop = Task.Run(ReceiveLoopAsync);
        }
    }

    /// <summary>The local address and port of the RTP socket (for the SDP offer or answer).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Where packets are sent: the address given to <see cref="SetRemote"/>, or the source latched onto (symmetric RTP).</summary>
    public IPEndPoint? RemoteEndPoint => _remote?.EndPoint;

    /// <summary>The negotiated codec, once <see cref="SetRemote"/> was called.</summary>
    public AudioCodec? Codec => _remote?.Codec;

    /// <summary>The negotiated audio payload type (static for G.711 and G.722, dynamic for Opus).</summary>
    public int? AudioPayloadType => _remote?.AudioPayloadType;

    /// <summary>The PCM rate this endpoint's frames are at: 16000 for a wideband codec, else 8000.</summary>
    public int SampleRate => _remote is { } remote ? AudioCodecs.SampleRate(remote.Codec) : NarrowbandClock;

    /// <summary>The SSRC of the stream this endpoint sends.</summary>
    public uint Ssrc => _ssrc;

    /// <summary>Well-formed RTP packets received after <see cref="SetRemote"/>.</summary>
    public long PacketsReceived => Interlocked.Read(ref _packetsReceived);

    /// <summary>RTP packets sent (audio and telephone-events).</summary>
    public long PacketsSent => Interlocked.Read(ref _packetsSent);

    /// <summary>Audio frames that arrived after their playout time.</summary>
    public long LateFrames
    {
        get
        {
            lock (_gate)
            {
                return _jitter.Late;
            }
        }
    }

    /// <summary>Audio frames that never arrived and were played as silence.</summary>
    public long LostFrames
    {
        get
        {
            lock (_gate)
            {
                return _jitter.Lost;
            }
        }
    }

    /// <summary>Datagrams that were no well-formed RTP (or an unusable audio payload); dropped.</summary>
    public long BadPackets => Interlocked.Read(ref _badPackets);

    /// <summary>Well-formed packets dropped unused: before <see cref="SetRemote"/>, or of a payload type not negotiated.</summary>
    public long IgnoredPackets => Interlocked.Read(ref _ignoredPackets);

    /// <summary>Packets dropped because they came from another source than the latched one (symmetric RTP).</summary>
    public long ForeignPackets => Interlocked.Read(ref _foreignPackets);

    /// <summary>Packets from this endpoint's phone relayed to the other member as they arrived (no decode, no tick).</summary>
    public long RelayedPackets => Interlocked.Read(ref _relayedPackets);

    /// <summary>Whether the source of the phone's packets is known (the first valid packet since <see cref="SetRemote"/> came).</summary>
    public bool IsLatched => _remote?.Latched == true;

    /// <summary>Sends that failed (network unreachable and the like).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>A DTMF digit (0–9, *, #, A–D) received as an RFC 4733 end packet; raised once per event, on the receive loop.</summary>
    public event Action<char>? DtmfReceived;

    /// <summary>
    /// Sets the far end and the negotiated codec. Symmetric RTP: the source address of the first packet of a negotiated
    /// payload type received after this call replaces <paramref name="remote"/> (the phone may sit behind NAT).
    /// </summary>
    public void SetRemote(IPEndPoint remote, AudioCodec codec, int telephoneEventPayloadType = 101) =>
        SetRemote(remote, codec, AudioCodecs.DefaultPayloadType(codec), telephoneEventPayloadType);

    /// <summary>
    /// Sets the far end, the negotiated codec and its payload type (Opus: the dynamic type of the SDP), and the
    /// telephone-event type (RFC 4733, at the codec's RTP clock rate). Symmetric RTP as in the other overload.
    /// </summary>
    public void SetRemote(IPEndPoint remote, AudioCodec codec, int audioPayloadType, int telephoneEventPayloadType)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentOutOfRangeException.ThrowIfNegative(audioPayloadType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(audioPayloadType, RtpPacket.MaxPayloadType);
        ArgumentOutOfRangeException.ThrowIfNegative(telephoneEventPayloadType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(telephoneEventPayloadType, RtpPacket.MaxPayloadType);
        if (!Enum.IsDefined(codec))
        {
            throw new ArgumentOutOfRangeException(nameof(codec));
        }

        if (remote.AddressFamily != LocalEndPoint.AddressFamily)
        {
            throw new ArgumentException($"remote {remote} is not of the socket's address family ({LocalEndPoint.AddressFamily})", nameof(remote));
        }

        if (audioPayloadType == telephoneEventPayloadType)
        {
            throw new ArgumentException("audio and telephone-event need distinct payload types", nameof(telephoneEventPayloadType));
        }

        // The codec state carries on through a re-offer of the same codec (no click); a new codec starts afresh.
        var old = _remote;
        var same = old is not null && old.Codec == codec;
        var decoder = same ? old!.Decoder : AudioTranscoder.Create(codec);
        var encoder = same ? old!.Encoder : AudioTranscoder.Create(codec);
        Conference? conference;
        lock (_gate)
        {
            if (_jitter.FrameLength != decoder.FrameSamples)
            {
                _jitter.Reset(decoder.FrameSamples);
            }

            _remote = new Remote(remote, remote.Serialize(), codec, (byte)audioPayloadType, telephoneEventPayloadType, Latched: false,
                AudioCodecs.ClockRate(codec), decoder, encoder);
            conference = _conference;
        }

        // The codec decides between relay and mixer.
        conference?.MembersChanged();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Conference? conference;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            conference = _conference;
        }

        conference?.Remove(this);
        if (_registration is { } registration)
        {
            _engine.Poller!.Remove(registration, _socket);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        _stop.Dispose();
        _engine.Unregister(this);
    }

    internal bool TryAttach(Conference conference)
    {
        lock (_gate)
        {
            if (_disposed || (_conference is not null && _conference != conference))
            {
                return false;
            }

            _conference = conference;
            return true;
        }
    }

    internal void Detach(Conference conference)
    {
        lock (_gate)
        {
            if (_conference == conference)
            {
                _conference = null;
            }
        }
    }

    /// <summary>Conference lock: this endpoint's packets go to <paramref name="partner"/> as they arrive (null: stop relaying).</summary>
    internal void RelayTo(RtpEndpoint? partner)
    {
        if (_relayTo == partner)
        {
            return;
        }

        _relayTo = partner;
        lock (_sendGate)
        {
            // A relayed digit passes through as the phone sent it; a half-sent mixer digit would otherwise resume later.
            _relaySynced = false;
            _dtmfActive = false;
            _clocked = false;
        }

        lock (_gate)
        {
            _dtmfQueue.Clear();
        }
    }

    /// <summary>Conference lock: this endpoint starts sending on the clock, its timeline continuing where the relay left it.</summary>
    internal void StartMixing()
    {
        var clock = _remote?.ClockRate ?? NarrowbandClock;
        lock (_sendGate)
        {
            _timestamp = ContinuedTimestamp(_engine.Now, clock);
            _relaySynced = false;

            // A packet the partner's receive loop relays after this moment would cut into the clock's timeline.
            _clocked = true;
        }

        lock (_gate)
        {
            // Whatever is buffered predates the relay; the stream is measured afresh from its next packet.
            _jitter.Reset();
        }
    }

    /// <summary>
    /// Clock thread: the frame due now from the jitter buffer into <paramref name="frame"/> (room for 320 samples);
    /// returns its length at <see cref="SampleRate"/>, or 0 for silence.
    /// </summary>
    internal int ReadFrame(Span<short> frame)
    {
        lock (_gate)
        {
            return _jitter.TryRead(frame) ? _jitter.FrameLength : 0;
        }
    }

    /// <summary>
    /// The sequence number of the next audio packet. The first <see cref="SequenceProbes"/> packets step through the
    /// sequence space a quarter at a time before counting on by one: a phone re-pointed at the switch may keep the
    /// jitter buffer of the stream it heard before and drop a new SSRC's packets as "too late" while their numbers
    /// lie behind the old ones (baresip 1.0 does, for minutes). One of four probes always lies ahead, is accepted,
    /// and every later packet is ahead of it; a receiver that validates a new source (RFC 3550 A.1) loses only the
    /// probes, 80 ms.
    /// </summary>
    private ushort NextAudioSequence()
    {
        if (_probesSent >= SequenceProbes) return _sequence++;
        var seq = (ushort)(_sequence + (_probesSent * 16384));
        if (++_probesSent == SequenceProbes) _sequence = (ushort)(seq + 1);
        return seq;
    }

    /// <summary>
    /// The RTP timestamp for media that starts now: the last one sent plus the time since (at least one frame), so a
    /// pause (relay without packets, a member being replaced) looks like silence suppression, never a step back.
    /// </summary>
    private uint ContinuedTimestamp(long now, int clockRate)
    {
        if (!_haveSent)
        {
            return _timestamp;
        }

        var units = (now - _lastSentAt) * (double)clockRate / _engine.TimestampFrequency;
        return _lastMediaTimestamp + (uint)Math.Clamp(units, clockRate / 50, int.MaxValue);
    }

    private void NoteSent(uint mediaEnd, long now)
    {
        if (!_haveSent || (int)(mediaEnd - _lastMediaTimestamp) > 0)
        {
            _lastMediaTimestamp = mediaEnd;
        }

        _haveSent = true;
        _lastSentAt = now;
    }

    /// <summary>
    /// Clock thread: sends one tick's worth, a frame of <paramref name="samples"/> (at <see cref="SampleRate"/>) in the
    /// negotiated codec or a relayed DTMF packet.
    /// </summary>
    internal void SendFrame(ReadOnlySpan<short> samples)
    {
        var remote = _remote;
        lock (_sendGate)
        {
            if (remote is null)
            {
                _timestamp += FrameSamples;
                return;
            }

            var step = (uint)(remote.ClockRate / 50);

            if (!_dtmfActive)
            {
                StartQueuedDtmf();
            }

            if (_dtmfActive)
            {
                SendDtmfTick(remote);
            }
            else if (samples.Length == remote.Encoder.FrameSamples)
            {
                var length = remote.Encoder.Encode(samples, _encoded);
                if (length > 0)
                {
                    Send(remote, new RtpPacket(remote.AudioPayloadType, NextAudioSequence(), _timestamp, _ssrc, _encoded.AsSpan(0, length), marker: !_sentFirst));
                    _sentFirst = true;
                }
            }

            // A frame of another rate comes only in the tick in which the codec changed: it is skipped, the timeline goes on.
            NoteSent(_timestamp, _engine.Now);
            _timestamp += step;
        }
    }

    /// <summary>
    /// The partner's receive loop: sends a packet of the partner's phone on to this endpoint's phone, payload as it is,
    /// header rewritten into this endpoint's stream. Gaps and reordering in the source show through (the phone's
    /// jitter buffer needs them); a new source SSRC or a jump continues the stream by one, its timeline by the time
    /// since the last packet.
    /// </summary>
    internal void Relay(in RtpPacket packet, bool telephoneEvent)
    {
        var remote = _remote;
        if (remote is null)
        {
            return;
        }

        lock (_sendGate)
        {
            if (_clocked)
            {
                return;
            }

            var now = _engine.Now;
            var marker = packet.Marker;
            var distance = RtpSequence.Distance(_relaySourceSequence, packet.SequenceNumber);
            ushort sequence;
            if (!_relaySynced || packet.Ssrc != _relaySourceSsrc || distance > MaxRelayDropout || distance < -MaxRelayMisorder)
            {
                _relaySynced = true;
                _relaySourceSsrc = packet.Ssrc;
                _relaySourceSequence = packet.SequenceNumber;
                _relayTimestampOffset = ContinuedTimestamp(now, remote.ClockRate) - packet.Timestamp;
                sequence = NextAudioSequence();
                marker = true;
                distance = 1;
            }
            else if (distance > 0)
            {
                _relaySourceSequence = packet.SequenceNumber;
                if (_probesSent < SequenceProbes)
                {
                    sequence = NextAudioSequence();
                }
                else
                {
                    sequence = (ushort)(_sequence + distance - 1);
                    _sequence = (ushort)(sequence + 1);
                }
            }
            else if (_probesSent < SequenceProbes)
            {
                // A straggler while the probes still jump about has no number that fits; the phone would drop it anyway.
                return;
            }
            else
            {
                sequence = (ushort)(_sequence + distance - 1);
            }

            var timestamp = packet.Timestamp + _relayTimestampOffset;
            var payloadType = telephoneEvent ? (byte)remote.EventPayloadType : remote.AudioPayloadType;
            Send(remote, new RtpPacket(payloadType, sequence, timestamp, _ssrc, packet.Payload, marker));
            _sentFirst = true;

            // An event's timestamp is its start; the media it covers runs on for its duration.
            var mediaEnd = timestamp;
            if (telephoneEvent && TelephoneEvent.TryParse(packet.Payload, out var tone))
            {
                mediaEnd += tone.Duration;
            }

            if (distance > 0)
            {
                NoteSent(mediaEnd, now);
            }
        }
    }

    /// <summary>
    /// Queues a DTMF digit (0–9, *, #, A–D) to be sent to the phone as RFC 4733 telephone-events on the next frames of
    /// the mixer; false for any other character.
    /// </summary>
    public bool SendDigit(char digit, ushort durationSamples = 800)
    {
        if (!TelephoneEvent.TryGetEvent(digit, out var eventCode)) return false;
        QueueDtmf(eventCode, durationSamples);
        return true;
    }

    /// <summary>Queues a digit to be sent as telephone-events (from the DTMF relay of the conference).</summary>
    internal void QueueDtmf(byte eventCode, ushort duration)
    {
        lock (_gate)
        {
            if (_dtmfQueue.Count < MaxQueuedDigits)
            {
                _dtmfQueue.Enqueue((eventCode, duration));
            }
        }
    }

    private void StartQueuedDtmf()
    {
        lock (_gate)
        {
            if (!_dtmfQueue.TryDequeue(out var digit))
            {
                return;
            }

            _dtmfActive = true;
            _dtmfEvent = digit.Event;

            // The duration field is 16 bits of the stream's clock: at 48 kHz that ends a digit after 1.36 s.
            var longest = Math.Min(MaxDtmfDuration, ushort.MaxValue * NarrowbandClock / (_remote?.ClockRate ?? NarrowbandClock));
            _dtmfTarget = Math.Clamp((int)digit.Duration, MinDtmfDuration, longest);
            _dtmfElapsed = 0;
            _dtmfTimestamp = _timestamp;
        }
    }

    private void SendDtmfTick(Remote remote)
    {
        Span<byte> payload = stackalloc byte[TelephoneEvent.Size];
        var first = _dtmfElapsed == 0;
        _dtmfElapsed += FrameSamples;
        var end = _dtmfElapsed >= _dtmfTarget;

        // RFC 4733 §2.3.5: the duration counts in the stream's RTP clock (the audio codec's, §2.1).
        var duration = (ushort)Math.Min(ushort.MaxValue, (long)_dtmfElapsed * remote.ClockRate / NarrowbandClock);
        new TelephoneEvent(_dtmfEvent, end, DtmfVolume, duration).TryWrite(payload);

        // RFC 4733 §2.5.1.4: the end packet goes out three times so that one loss does not lose the digit.
        var copies = end ? 3 : 1;
        for (var i = 0; i < copies; i++)
        {
            Send(remote, new RtpPacket((byte)remote.EventPayloadType, _sequence++, _dtmfTimestamp, _ssrc, payload, marker: first));
        }

        _dtmfActive = !end;
    }

    private void Send(Remote remote, RtpPacket packet)
    {
        if (!packet.TryWrite(_packet, out var length) || (_srtp is { } srtp && (length = Protect(srtp, length)) < 0))
        {
            return;
        }

        try
        {
            _socket.SendTo(_packet.AsSpan(0, length), SocketFlags.None, remote.Address);
            Interlocked.Increment(ref _packetsSent);
        }
        catch (SocketException ex)
        {
            if (Interlocked.Increment(ref _sendErrors) == 1)
            {
                MediaLog.SendFailed(_logger, LocalEndPoint, remote.EndPoint, ex.SocketErrorCode);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the conference's snapshot and this send: nothing left to do.
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagramSize + 1, pinned: true);
        var source = new SocketAddress(_socket.AddressFamily);
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, source, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex) when (!token.IsCancellationRequested)
            {
                // ICMP errors (port unreachable) surface here on some platforms; the socket itself is still fine.
                MediaLog.ReceiveError(_logger, LocalEndPoint, ex.SocketErrorCode);
                continue;
            }
            catch (SocketException)
            {
                break;
            }

            try
            {
                OnDatagram(buffer.AsSpan(0, length), source);
            }
            catch (Exception ex)
            {
                // A packet must never end the loop; this is a bug, so it is logged loudly, but the stream goes on.
                Interlocked.Increment(ref _badPackets);
                MediaLog.PacketFailed(_logger, ex, LocalEndPoint);
            }
        }
    }

    /// <summary>A STUN message (RFC 5389 §6): the two top bits zero, the magic cookie, a 20-byte header at least.</summary>
    private static bool IsStun(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= 20 && (datagram[0] & 0xC0) == 0 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) == 0x2112A442;

    /// <summary>A receive thread of the engine's poller: the socket has a datagram; read and handle it.</summary>
    internal void OnReadable(byte[] buffer, SocketAddress source)
    {
        var length = ReceivePoller.Receive(_socket, buffer, source);
        if (length < 0)
        {
            return;
        }

        try
        {
            OnDatagram(buffer.AsSpan(0, length), source);
        }
        catch (Exception ex)
        {
            // As in the async loop: a packet must never stop the receive thread, which serves many endpoints.
            Interlocked.Increment(ref _badPackets);
            MediaLog.PacketFailed(_logger, ex, LocalEndPoint);
        }
    }

    private void OnDatagram(Span<byte> datagram, SocketAddress source)
    {
        // Phones send STUN Binding requests to the RTP port to open or keep a NAT binding (linphone does at the start
        // of each call). They are no media and, on an SRTP endpoint, no forgery either; RFC 7983 §7 tells them apart.
        if (IsStun(datagram))
        {
            Interlocked.Increment(ref _ignoredPackets);
            return;
        }

        if (datagram.Length > MaxDatagramSize || (_srtp is { } srtp && !Unprotect(srtp, ref datagram)) || !RtpPacket.TryParse(datagram, out var packet))
        {
            Interlocked.Increment(ref _badPackets);
            return;
        }

        var remote = _remote;
        if (remote is null)
        {
            Interlocked.Increment(ref _ignoredPackets);
            return;
        }

        // Only a negotiated payload type may latch or be relayed: anything else is no stream of this call.
        var audio = packet.PayloadType == remote.AudioPayloadType;
        if (!audio && packet.PayloadType != remote.EventPayloadType)
        {
            Interlocked.Increment(ref _ignoredPackets);
            return;
        }

        if (!Admit(ref remote, source, packet.Ssrc))
        {
            Interlocked.Increment(ref _foreignPackets);
            return;
        }

        Interlocked.Increment(ref _packetsReceived);
        _reception.Add(packet.SequenceNumber, packet.Timestamp, packet.Ssrc, _engine.Now, _engine.TimestampFrequency, remote.ClockRate, timed: audio);
        var partner = _relayTo;
        if (partner is not null)
        {
            partner.Relay(packet, telephoneEvent: !audio);
            Interlocked.Increment(ref _relayedPackets);
            if (!audio && TelephoneEvent.TryParse(packet.Payload, out var relayed))
            {
                OnTelephoneEvent(packet.Timestamp, packet.Ssrc, relayed, relayToMembers: false);
            }

            return;
        }

        if (audio)
        {
            // Only packets of up to 20 ms are supported (ptime 20, the default); longer ones would desynchronise the clock.
            _decoded ??= new short[JitterBuffer.MaxFrameSamples];
            var decoded = remote.Decoder.Decode(packet.Payload, _decoded);
            if (decoded <= 0)
            {
                Interlocked.Increment(ref _badPackets);
                return;
            }

            var samples = _decoded.AsSpan(0, decoded);
            lock (_gate)
            {
                _jitter.Put(packet.SequenceNumber, packet.Ssrc, samples);
            }
        }
        else if (TelephoneEvent.TryParse(packet.Payload, out var tone))
        {
            OnTelephoneEvent(packet.Timestamp, packet.Ssrc, tone, relayToMembers: true);
        }
        else
        {
            Interlocked.Increment(ref _ignoredPackets);
        }
    }

    /// <summary>
    /// Symmetric RTP: whether a packet of a negotiated payload type from <paramref name="source"/> is the phone's.
    /// Latches onto the first source; afterwards only that source, unless it has been silent long enough and the new
    /// one sends the SSRC it sent. Keeps one source and one SSRC, whatever the number of senders.
    /// </summary>
    private bool Admit(ref Remote remote, SocketAddress source, uint ssrc)
    {
        var now = _engine.Now;
        if (remote.Latched && source.Equals(remote.Address))
        {
            _latchedSsrc = ssrc;
            _latchedHeardAt = now;
            return true;
        }

        if (remote.Latched && (ssrc != _latchedSsrc || now - _latchedHeardAt < _engine.RelatchAfterTicks))
        {
            if (!_foreignLogged)
            {
                _foreignLogged = true;
                MediaLog.ForeignSource(_logger, LocalEndPoint, (IPEndPoint)remote.EndPoint.Create(source), remote.EndPoint);
            }

            return false;
        }

        var latched = Latch(remote, source);
        if (remote.Latched)
        {
            MediaLog.Relatched(_logger, LocalEndPoint, remote.EndPoint, latched.EndPoint, ssrc);
        }
        else if (!latched.EndPoint.Equals(remote.EndPoint))
        {
            MediaLog.Latched(_logger, LocalEndPoint, latched.EndPoint, remote.EndPoint);
        }

        remote = latched;
        _latchedSsrc = ssrc;
        _latchedHeardAt = now;
        _foreignLogged = false;
        return true;
    }

    private Remote Latch(Remote remote, SocketAddress source)
    {
        Remote latched;
        if (source.Equals(remote.Address))
        {
            latched = remote with { Latched = true };
        }
        else
        {
            var copy = new SocketAddress(source.Family, source.Size);
            source.Buffer.Span[..source.Size].CopyTo(copy.Buffer.Span);
            latched = remote with { EndPoint = (IPEndPoint)remote.EndPoint.Create(copy), Address = copy, Latched = true };
        }

        // Only if SetRemote did not replace the remote meanwhile; a new SDP wins and learns on its own next packet.
        return Interlocked.CompareExchange(ref _remote, latched, remote) == remote ? latched : _remote ?? latched;
    }

    private void OnTelephoneEvent(uint timestamp, uint ssrc, TelephoneEvent tone, bool relayToMembers)
    {
        // All packets of one event share its timestamp; the end packet comes three times. Fire on the first end only.
        if (!tone.End || (_haveLastDtmf && timestamp == _lastDtmfTimestamp && ssrc == _lastDtmfSsrc))
        {
            return;
        }

        _haveLastDtmf = true;
        _lastDtmfTimestamp = timestamp;
        _lastDtmfSsrc = ssrc;
        if (!TelephoneEvent.TryGetDigit(tone.Event, out var digit))
        {
            return;
        }

        if (relayToMembers)
        {
            Conference? conference;
            lock (_gate)
            {
                conference = _conference;
            }

            // Inside the engine durations count in 8 kHz samples, whatever clock each member's stream runs at.
            var clock = _remote?.ClockRate ?? NarrowbandClock;
            var duration = (ushort)Math.Min(ushort.MaxValue, (long)tone.Duration * NarrowbandClock / clock);
            conference?.RelayDtmf(this, tone.Event, duration);
        }

        if (DtmfReceived is not { } handlers)
        {
            return;
        }

        // Each subscriber on its own, so one that throws neither stops the others nor the receive loop.
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<char>)handler)(digit);
            }
            catch (Exception ex)
            {
                MediaLog.DtmfHandlerFailed(_logger, ex, LocalEndPoint);
            }
        }
    }

    private sealed record Remote(IPEndPoint EndPoint, SocketAddress Address, AudioCodec Codec, byte AudioPayloadType, int EventPayloadType, bool Latched,
        int ClockRate, AudioTranscoder Decoder, AudioTranscoder Encoder);
}
