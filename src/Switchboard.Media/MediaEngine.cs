using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Media.Jitter;
using Switchboard.Media.Rtp;

namespace Switchboard.Media;

/// <summary>
/// The media engine: creates RTP endpoints and conferences, and runs the one 20 ms mixing clock, on a dedicated thread,
/// for the conferences that mix (three or more members, or transcoding). Two-party conferences relay on the receive
/// path and cost nothing while no packet flows.
/// </summary>
public sealed partial class MediaEngine : IAsyncDisposable
{
    /// <summary>The tick: one G.711 frame.</summary>
    public static readonly TimeSpan FrameDuration = TimeSpan.FromMilliseconds(20);

    // A clock that fell this many ticks behind (machine suspended, debugger) skips ahead instead of bursting packets.
    private const int MaxCatchUpTicks = 5;

    private readonly MediaEngineOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IPAddress _bindAddress;
    private readonly Lock _gate = new();
    private readonly Thread _clock;
    private readonly ManualResetEventSlim _stopping = new(false, spinCount: 1);
    private readonly ReceivePoller? _poller;

    // Under _gate. Sets, not copied arrays: with thousands of calls up, each new call would otherwise copy the whole
    // list of the others twice (created, closed), kilobytes per call and growing with the load.
    private readonly HashSet<Conference> _conferences = [];

    // The conferences the clock ticks: a subset of _conferences, replaced under _gate, read by the clock without it.
    private Conference[] _mixing = [];
    private readonly HashSet<RtpEndpoint> _endpoints = [];
    private int _nextPort;
    private bool _disposed;
    private long _ticks;
    private long _overruns;
    private long _skippedTicks;
    private long _tickFailures;

    /// <summary>Creates the engine and starts its clock.</summary>
    public MediaEngine(MediaEngineOptions options, ILogger<MediaEngine>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!IPAddress.TryParse(options.BindAddress, out var bindAddress))
        {
            throw new ArgumentException($"Media BindAddress '{options.BindAddress}' is no IP address", nameof(options));
        }

        var osPicks = options.PortMin == 0 && options.PortMax == 0;
        if (!osPicks && (options.PortMin is < 1 or > 65535 || options.PortMax is < 1 or > 65535 || options.PortMin > options.PortMax
            || (options.PortMin + 1) / 2 * 2 > options.PortMax))
        {
            throw new ArgumentException($"Media port range {options.PortMin}-{options.PortMax} holds no even port (use 0/0 to let the OS pick)", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.PlayoutDelayFrames, nameof(options.PlayoutDelayFrames));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.PlayoutDelayFrames, JitterBuffer.MaxPlayoutDelayFrames, nameof(options.PlayoutDelayFrames));
        ArgumentOutOfRangeException.ThrowIfNegative(options.RelatchAfterMilliseconds, nameof(options.RelatchAfterMilliseconds));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.RelatchAfterMilliseconds, MediaEngineOptions.MaxRelatchAfterMilliseconds, nameof(options.RelatchAfterMilliseconds));
        _options = options;
        _bindAddress = bindAddress;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _nextPort = (options.PortMin + 1) / 2 * 2;
        RelatchAfterTicks = (long)(options.RelatchAfterMilliseconds / 1000.0 * _time.TimestampFrequency);
        // One receive thread per core (at most four) serves every RTP socket; relaying happens on it.
        _poller = ReceivePoller.TryCreate(Math.Clamp(Environment.ProcessorCount, 1, 4));
        _clock = new Thread(RunClock) { IsBackground = true, Name = "media-clock" };
        _clock.Start();
    }

    /// <summary>Ticks run so far.</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    /// <summary>Endpoints created and not yet disposed (each holds a UDP socket).</summary>
    public int OpenEndpoints
    {
        get
        {
            lock (_gate) return _endpoints.Count;
        }
    }

    /// <summary>Conferences created and not yet disposed.</summary>
    public int OpenConferences
    {
        get
        {
            lock (_gate) return _conferences.Count;
        }
    }

    /// <summary>Conferences the clock mixes each tick (the others relay or are idle).</summary>
    public int MixingConferences => Volatile.Read(ref _mixing).Length;

    internal ILogger Logger => _logger;

    /// <summary>The epoll receive threads, or null where endpoints receive with async socket calls.</summary>
    internal ReceivePoller? Poller => _poller;

    internal long TimestampFrequency => _time.TimestampFrequency;

    /// <summary>The engine's time, in <see cref="TimestampFrequency"/> units.</summary>
    internal long Now => _time.GetTimestamp();

    /// <summary><see cref="MediaEngineOptions.RelatchAfterMilliseconds"/> in <see cref="TimestampFrequency"/> units.</summary>
    internal long RelatchAfterTicks { get; }

    /// <summary>Ticks that ended more than one frame after their deadline (the clock was overloaded).</summary>
    public long Overruns => Interlocked.Read(ref _overruns);

    /// <summary>Ticks skipped because the clock fell more than five frames behind.</summary>
    public long SkippedTicks => Interlocked.Read(ref _skippedTicks);

    /// <summary>Conference ticks that threw (a bug; logged).</summary>
    public long TickFailures => Interlocked.Read(ref _tickFailures);

    /// <summary>Binds one UDP socket (an even port when a range is configured) and starts receiving on it.</summary>
    public RtpEndpoint CreateEndpoint()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var socket = Bind();
            try
            {
                var endpoint = new RtpEndpoint(this, socket, _options.PlayoutDelayFrames, _logger);
                _endpoints.Add(endpoint);
                return endpoint;
            }
            catch
            {
                // The poller could not take the socket (epoll_ctl failed): no endpoint, and no socket left open.
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>Creates an empty conference driven by this engine's clock.</summary>
    public Conference CreateConference()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var conference = new Conference(this);
            _conferences.Add(conference);
            return conference;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Conference[] conferences;
        RtpEndpoint[] endpoints;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            conferences = [.. _conferences];
            endpoints = [.. _endpoints];
        }

        _stopping.Set();
        _clock.Join();
        foreach (var conference in conferences)
        {
            await conference.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var endpoint in endpoints)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }

        _poller?.Dispose();
        _stopping.Dispose();
    }

    internal void Unregister(Conference conference)
    {
        lock (_gate)
        {
            _conferences.Remove(conference);
            _mixing = Without(_mixing, conference);
        }
    }

    /// <summary>Puts a conference on the clock or takes it off.</summary>
    internal void SetMixing(Conference conference, bool mixing)
    {
        lock (_gate)
        {
            var ticking = Array.IndexOf(_mixing, conference) >= 0;
            if (mixing && !ticking && _conferences.Contains(conference))
            {
                _mixing = [.. _mixing, conference];
            }
            else if (!mixing && ticking)
            {
                _mixing = Without(_mixing, conference);
            }
        }
    }

    private static Conference[] Without(Conference[] conferences, Conference conference)
    {
        var index = Array.IndexOf(conferences, conference);
        return index < 0 ? conferences : [.. conferences.AsSpan(0, index), .. conferences.AsSpan(index + 1)];
    }

    internal void Unregister(RtpEndpoint endpoint)
    {
        lock (_gate)
        {
            if (_endpoints.Remove(endpoint))
            {
                Retire(endpoint);
            }
        }
    }

    private Socket Bind()
    {
        var socket = new Socket(_bindAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (_options.PortMin == 0 && _options.PortMax == 0)
            {
                socket.Bind(new IPEndPoint(_bindAddress, 0));
                return socket;
            }

            // Even ports for RTP (RFC 3550 §11); the cursor rotates so a port just freed is not reused at once.
            var first = (_options.PortMin + 1) / 2 * 2;
            var count = ((_options.PortMax - first) / 2) + 1;
            for (var attempt = 0; attempt < count; attempt++)
            {
                var port = _nextPort;
                _nextPort = port + 2 > _options.PortMax ? first : port + 2;
                try
                {
                    socket.Bind(new IPEndPoint(_bindAddress, port));
                    return socket;
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    // Taken by another endpoint or process: try the next one.
                }
            }

            throw new InvalidOperationException($"no free even RTP port in {_options.PortMin}-{_options.PortMax} on {_bindAddress}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void RunClock()
    {
        var period = (long)(FrameDuration.TotalSeconds * _time.TimestampFrequency);
        var start = _time.GetTimestamp();
        long tick = 0;
        while (!_stopping.IsSet)
        {
            // Deadlines are absolute (start + n × 20 ms), so waking late never accumulates into drift.
            var deadline = start + (tick * period);
            var now = _time.GetTimestamp();
            if (now < deadline)
            {
                var wait = (int)Math.Ceiling((deadline - now) * 1000.0 / _time.TimestampFrequency);
                _stopping.Wait(Math.Max(wait, 1));
                continue;
            }

            var behind = (now - deadline) / period;
            if (behind > MaxCatchUpTicks)
            {
                Interlocked.Add(ref _skippedTicks, behind);
                tick += behind;
                deadline += behind * period;
                MediaLog.ClockSkipped(_logger, behind);
            }

            RunTick();
            tick++;
            Interlocked.Increment(ref _ticks);
            if (_time.GetTimestamp() - deadline > period)
            {
                Interlocked.Increment(ref _overruns);
            }
        }
    }

    private void RunTick()
    {
        foreach (var conference in Volatile.Read(ref _mixing))
        {
            try
            {
                conference.Tick();
            }
            catch (Exception ex)
            {
                // One broken conference must not silence all the others.
                Interlocked.Increment(ref _tickFailures);
                MediaLog.TickFailed(_logger, ex);
            }
        }
    }
}
