using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchboard.Media.Codecs;
using Switchboard.Media.Dtmf;
using Switchboard.Media.Jitter;
using Switchboard.Media.Rtp;

namespace Switchboard.Media;

/// <summary>
/// One RTP stream pair on its own UDP socket: receives into a jitter buffer, detects RFC 4733 DTMF, and (as a
/// <see cref="Conference"/> member) sends one G.711 packet per 20 ms tick.
/// </summary>
public sealed class RtpEndpoint : IAsyncDisposable
{
    /// <summary>Largest datagram read; anything longer is no G.711 packet of 20 ms and is counted as bad.</summary>
    public const int MaxDatagramSize = 1500;

    /// <summary>Audio packets that open a stream with sequence numbers a quarter of the space apart (see NextAudioSequence).</summary>
    public const int SequenceProbes = 4;

    /// <summary>At most this many relayed digits wait to be sent; more are dropped (a flood, not a person dialling).</summary>
    public const int MaxQueuedDigits = 32;

    private const int FrameSamples = JitterBuffer.FrameSamples;
    private const byte DtmfVolume = 10;

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

    // Receive loop only.
    private readonly short[] _decoded = new short[FrameSamples];
    private bool _latched;
    private bool _haveLastDtmf;
    private uint _lastDtmfTimestamp;
    private uint _lastDtmfSsrc;

    // Clock thread only.
    private readonly byte[] _packet = new byte[RtpPacket.FixedHeaderSize + FrameSamples];
    private readonly byte[] _encoded = new byte[FrameSamples];
    private readonly uint _ssrc;
    private ushort _sequence;
    private uint _timestamp;
    private bool _sentFirst;
    private int _probesSent;
    private bool _dtmfActive;
    private byte _dtmfEvent;
    private uint _dtmfTimestamp;
    private int _dtmfElapsed;
    private int _dtmfTarget;

    // Guarded by _gate.
    private readonly Queue<(byte Event, ushort Duration)> _dtmfQueue = new();
    private Conference? _conference;
    private bool _disposed;

    private volatile Remote? _remote;
    private long _packetsReceived;
    private long _packetsSent;
    private long _badPackets;
    private long _ignoredPackets;
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
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>The local address and port of the RTP socket (for the SDP offer or answer).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Where packets are sent: the address given to <see cref="SetRemote"/>, or the one learned from the first packet.</summary>
    public IPEndPoint? RemoteEndPoint => _remote?.EndPoint;

    /// <summary>The negotiated codec, once <see cref="SetRemote"/> was called.</summary>
    public AudioCodec? Codec => _remote?.Codec;

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

    /// <summary>Sends that failed (network unreachable and the like).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>A DTMF digit (0–9, *, #, A–D) received as an RFC 4733 end packet; raised once per event, on the receive loop.</summary>
    public event Action<char>? DtmfReceived;

    /// <summary>
    /// Sets the far end and the negotiated codec. Symmetric RTP: the source address of the first packet received after
    /// this call replaces <paramref name="remote"/> (the phone may sit behind NAT).
    /// </summary>
    public void SetRemote(IPEndPoint remote, AudioCodec codec, int telephoneEventPayloadType = 101)
    {
        ArgumentNullException.ThrowIfNull(remote);
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

        _latched = false;
        _remote = new Remote(remote, remote.Serialize(), codec, G711.PayloadType(codec), telephoneEventPayloadType);
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

    /// <summary>Clock thread: the frame due now from the jitter buffer, or false for silence.</summary>
    internal bool ReadFrame(Span<short> frame)
    {
        lock (_gate)
        {
            return _jitter.TryRead(frame);
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

    /// <summary>Clock thread: sends one tick's worth, a G.711 frame of <paramref name="samples"/> or a relayed DTMF packet.</summary>
    internal void SendFrame(ReadOnlySpan<short> samples)
    {
        var remote = _remote;
        if (remote is null)
        {
            _timestamp += FrameSamples;
            return;
        }

        if (!_dtmfActive)
        {
            StartQueuedDtmf();
        }

        if (_dtmfActive)
        {
            SendDtmfTick(remote);
        }
        else
        {
            G711.Encode(remote.Codec, samples, _encoded);
            Send(remote, new RtpPacket(remote.AudioPayloadType, NextAudioSequence(), _timestamp, _ssrc, _encoded, marker: !_sentFirst));
            _sentFirst = true;
        }

        _timestamp += FrameSamples;
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
            _dtmfTarget = Math.Clamp((int)digit.Duration, MinDtmfDuration, MaxDtmfDuration);
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
        new TelephoneEvent(_dtmfEvent, end, DtmfVolume, (ushort)_dtmfElapsed).TryWrite(payload);

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
        if (!packet.TryWrite(_packet, out var length))
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
                _logger.LogWarning("RTP send from {Local} to {Remote} failed: {Error}", LocalEndPoint, remote.EndPoint, ex.SocketErrorCode);
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
                _logger.LogDebug("RTP receive on {Local}: {Error}", LocalEndPoint, ex.SocketErrorCode);
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
                _logger.LogError(ex, "RTP packet on {Local} could not be handled", LocalEndPoint);
            }
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        if (datagram.Length > MaxDatagramSize || !RtpPacket.TryParse(datagram, out var packet))
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

        if (!_latched)
        {
            _latched = true;
            remote = Learn(remote, source);
        }

        Interlocked.Increment(ref _packetsReceived);
        if (packet.PayloadType == remote.AudioPayloadType)
        {
            if (packet.Payload.IsEmpty || packet.Payload.Length > FrameSamples)
            {
                // Only 20 ms packets are supported (ptime 20, the G.711 default); others would desynchronise the clock.
                Interlocked.Increment(ref _badPackets);
                return;
            }

            var samples = _decoded.AsSpan(0, packet.Payload.Length);
            G711.Decode(remote.Codec, packet.Payload, samples);
            lock (_gate)
            {
                _jitter.Put(packet.SequenceNumber, packet.Ssrc, samples);
            }
        }
        else if (packet.PayloadType == remote.EventPayloadType && TelephoneEvent.TryParse(packet.Payload, out var tone))
        {
            OnTelephoneEvent(packet.Timestamp, packet.Ssrc, tone);
        }
        else
        {
            Interlocked.Increment(ref _ignoredPackets);
        }
    }

    private Remote Learn(Remote remote, SocketAddress source)
    {
        if (source.Equals(remote.Address))
        {
            return remote;
        }

        var copy = new SocketAddress(source.Family, source.Size);
        source.Buffer.Span[..source.Size].CopyTo(copy.Buffer.Span);
        var learned = remote with { EndPoint = (IPEndPoint)remote.EndPoint.Create(copy), Address = copy };

        // Only if SetRemote did not replace the remote meanwhile.
        if (Interlocked.CompareExchange(ref _remote, learned, remote) == remote)
        {
            _logger.LogInformation("RTP on {Local}: remote {Given} replaced by the source of the first packet, {Learned}", LocalEndPoint, remote.EndPoint, learned.EndPoint);
            return learned;
        }

        return _remote ?? remote;
    }

    private void OnTelephoneEvent(uint timestamp, uint ssrc, TelephoneEvent tone)
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

        Conference? conference;
        lock (_gate)
        {
            conference = _conference;
        }

        conference?.RelayDtmf(this, tone.Event, tone.Duration);
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
                _logger.LogError(ex, "DtmfReceived handler failed on {Local}", LocalEndPoint);
            }
        }
    }

    private sealed record Remote(IPEndPoint EndPoint, SocketAddress Address, AudioCodec Codec, byte AudioPayloadType, int EventPayloadType);
}
