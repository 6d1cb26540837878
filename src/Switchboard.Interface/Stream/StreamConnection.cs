using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Interface.Stream;

/// <summary>
/// One TCP connection of the IP interface: command lines in, one reply line each out, EVENT lines for Monitor. The
/// first line decides whether the peer speaks HTTP, in which case <see cref="HttpSession"/> takes over.
/// </summary>
internal sealed class StreamConnection : IAsyncDisposable
{
    private static ReadOnlySpan<byte> LineEnds => "\r\n"u8;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly CommandInterpreter _interpreter;
    private readonly CallEventHub _events;
    private readonly IpInterfaceOptions _options;
    private readonly ILogger _log;
    private readonly LogThrottle _throttle;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<string, CallEventSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closed;
    private readonly IPEndPoint _remote;
    private readonly ClientContext _context;
    private readonly List<string?> _pending = [];
    private long _readingSince;
    private long _partialSince;
    private long _flushSince;
    private volatile string? _timeoutReply;

    public StreamConnection(Socket socket, CommandInterpreter interpreter, CallEventHub events, IpInterfaceOptions options,
        ILogger log, LogThrottle throttle, CancellationToken stopping)
    {
        _throttle = throttle;
        _socket = socket;
        _socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 512));
        _writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 4096));
        _interpreter = interpreter;
        _events = events;
        _options = options;
        _log = log;
        _closed = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _remote = (IPEndPoint)socket.RemoteEndPoint!;
        _context = new ClientContext(FrontEndKind.Tcp, _remote.Address) { Monitor = StartMonitor };
    }

    public IPEndPoint Remote => _remote;

    public async Task RunAsync()
    {
        try
        {
            await RunLinesAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            InterfaceLog.ConnectionEnded(_log, ex, _remote, ex.Message);
        }
        catch (Exception ex)
        {
            InterfaceLog.ConnectionFailed(_log, ex, _remote);
        }
        finally
        {
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunLinesAsync()
    {
        bool first = true;
        bool discarding = false;
        while (true)
        {
            Volatile.Write(ref _readingSince, Stopwatch.GetTimestamp());
            var result = await _reader.ReadAsync(_closed.Token).ConfigureAwait(false);
            Volatile.Write(ref _readingSince, 0);
            if (result.IsCanceled)
            {
                // The sweeper cancelled the read: idle too long, or a started line was not finished in time.
                var reason = _timeoutReply ?? "408 timeout; closing";
                if (_throttle.Allow("connections closed for timeouts", _remote.Address))
                    InterfaceLog.ConnectionClosing(_log, _remote, reason);
                await WriteAndFlushAsync(w => ReplyWriter.WriteLine(w, reason)).ConfigureAwait(false);
                return;
            }
            var buffer = result.Buffer;

            if (first)
            {
                var reader0 = new SequenceReader<byte>(buffer);
                if (reader0.TryReadToAny(out ReadOnlySequence<byte> firstLine, LineEnds, advancePastDelimiter: false))
                {
                    first = false;
                    if (HttpSession.IsRequestLine(firstLine))
                    {
                        await RunHttpAsync(buffer).ConfigureAwait(false);
                        return;
                    }
                }
                else if (!result.IsCompleted && HttpSession.MayBeRequestLine(buffer))
                {
                    // A browser's request line may be longer than a command line (a long click-to-dial URL) and arrive
                    // in several reads: wait for its end up to the HTTP head limit instead of cutting it as a command.
                    if (buffer.Length <= _options.MaxHttpHeaderBytes)
                    {
                        if (_partialSince == 0) Volatile.Write(ref _partialSince, Stopwatch.GetTimestamp());
                        _reader.AdvanceTo(buffer.Start, buffer.End);
                        continue;
                    }
                    await RunHttpAsync(buffer).ConfigureAwait(false);
                    return;
                }
                else if (buffer.Length > _options.MaxLineLength || result.IsCompleted)
                {
                    first = false;
                }
            }

            _pending.Clear();
            buffer = SplitLines(buffer, result.IsCompleted, ref discarding);
            Volatile.Write(ref _partialSince, buffer.IsEmpty ? 0 : (_partialSince != 0 ? _partialSince : Stopwatch.GetTimestamp()));
            await _writeLock.WaitAsync(_closed.Token).ConfigureAwait(false);
            try
            {
                foreach (var line in _pending)
                {
                    if (line is null) LineTooLong();
                    else await ExecuteLineAsync(line).ConfigureAwait(false);
                }
                await FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                // The client closed its sending side; it may still wait for Monitor events, which it cannot stop now,
                // so the connection ends once the replies are out.
                return;
            }
        }
    }

    private Task RunHttpAsync(ReadOnlySequence<byte> buffer)
    {
        _reader.AdvanceTo(buffer.Start);
        // HTTP has its own head timeout; the command-line timer must not fire into it.
        Volatile.Write(ref _partialSince, 0);
        return new HttpSession(_reader, _writer, _interpreter, _options, _remote, _log, _closed.Token, _throttle).RunAsync();
    }

    /// <summary>
    /// Cuts complete lines (CR, LF or CRLF) out of the buffer into <see cref="_pending"/>; null marks an over-long line.
    /// Returns what is left. When the client has closed its side, a last line without line end still counts.
    /// </summary>
    private ReadOnlySequence<byte> SplitLines(ReadOnlySequence<byte> buffer, bool completed, ref bool discarding)
    {
        var sr = new SequenceReader<byte>(buffer);
        while (true)
        {
            if (!sr.TryReadToAny(out ReadOnlySequence<byte> line, LineEnds, advancePastDelimiter: true))
            {
                if (discarding)
                {
                    sr.AdvanceToEnd();
                }
                else if (sr.Remaining > _options.MaxLineLength)
                {
                    discarding = true;
                    sr.AdvanceToEnd();
                    _pending.Add(null);
                }
                break;
            }
            if (discarding)
            {
                discarding = false;
                continue;
            }
            if (IsBlank(line)) continue;
            _pending.Add(line.Length > _options.MaxLineLength ? null : Decode(line));
        }
        var rest = buffer.Slice(sr.Position);
        if (completed && !rest.IsEmpty && !discarding)
        {
            if (!IsBlank(rest)) _pending.Add(Decode(rest));
            rest = rest.Slice(rest.End);
        }
        return rest;
    }

    // A line of only spaces and tabs is empty to the people who write them (dial files skip such lines too), so it
    // gets no reply rather than a 400 for a missing verb.
    private static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
            foreach (var b in segment.Span)
                if (b is not ((byte)' ' or (byte)'\t')) return false;
        return true;
    }

    // Latin-1 maps every byte to one char, so garbage bytes reach the parser intact and are named in its reply.
    private static string Decode(ReadOnlySequence<byte> line) =>
        line.IsSingleSegment ? Encoding.Latin1.GetString(line.FirstSpan) : Encoding.Latin1.GetString(line.ToArray());

    private void LineTooLong()
    {
        if (_throttle.Allow("over-long command lines", _remote.Address))
            InterfaceLog.LineTooLong(_log, _options.MaxLineLength, _remote);
        ReplyWriter.WriteReply(_writer, CallControlResult.Fail(ReplyCode.BadRequest,
            $"line too long (more than {_options.MaxLineLength} bytes); discarded"));
    }

    private async ValueTask ExecuteLineAsync(string text)
    {
        var reply = await _interpreter.ExecuteAsync(text, _context, _closed.Token).ConfigureAwait(false);
        ReplyWriter.WriteReply(_writer, reply);
        if (_writer.UnflushedBytes > 64 * 1024) await FlushAsync().ConfigureAwait(false);
    }

    private async ValueTask FlushAsync()
    {
        if (_writer.UnflushedBytes == 0) return;
        Volatile.Write(ref _flushSince, Stopwatch.GetTimestamp());
        try
        {
            await _writer.FlushAsync(_closed.Token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _flushSince, 0);
        }
    }

    /// <summary>
    /// Called periodically by the server: enforces the idle, line and write timeouts without a timer per operation
    /// (a timer per read or flush costs more than the command itself at high rates).
    /// </summary>
    public void CheckTimeouts(long now, TimeSpan idleTimeout, bool underLoad)
    {
        if (_closed.IsCancellationRequested) return;
        long flush = Volatile.Read(ref _flushSince);
        if (flush != 0 && Stopwatch.GetElapsedTime(flush, now) > _options.WriteTimeout)
        {
            InterfaceLog.ClientNotReading(_log, _remote, _options.WriteTimeout);
            Abort();
            return;
        }
        long reading = Volatile.Read(ref _readingSince);
        if (reading == 0) return;
        long partial = Volatile.Read(ref _partialSince);
        if (partial != 0 && Stopwatch.GetElapsedTime(partial, now) > _options.LineTimeout)
        {
            _timeoutReply = $"408 command line not completed within {_options.LineTimeout.TotalSeconds:0.###} s; closing";
            _reader.CancelPendingRead();
            return;
        }
        bool monitoring;
        lock (_subscriptions) monitoring = _subscriptions.Count > 0;
        if (!monitoring && Stopwatch.GetElapsedTime(reading, now) > idleTimeout)
        {
            _timeoutReply = underLoad ? "408 idle timeout (server busy); closing" : "408 idle timeout; closing";
            _reader.CancelPendingRead();
        }
    }

    /// <summary>Ends the connection at once; pending reads and writes fail.</summary>
    public void Abort()
    {
        try
        {
            _closed.Cancel();
            _socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async ValueTask WriteAndFlushAsync(Action<PipeWriter> write)
    {
        await _writeLock.WaitAsync(_closed.Token).ConfigureAwait(false);
        try
        {
            write(_writer);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private CallControlResult StartMonitor(string device, long? after)
    {
        CallEventSubscription sub;
        lock (_subscriptions)
        {
            // A second subscription to the same device would only send every event twice, and each one holds a
            // queue of its own: the count per connection is what bounds a client that subscribes and never reads.
            if (_subscriptions.ContainsKey(device))
                return CallControlResult.Ok($"Monitor {device}: already monitored on this connection; events continue");
            if (_subscriptions.Count >= _options.MaxMonitorsPerConnection)
                return CallControlResult.Fail(ReplyCode.Unavailable,
                    $"Monitor {device}: this connection already monitors {_subscriptions.Count} devices (IpInterface:MaxMonitorsPerConnection); use Monitor *");
            sub = _events.Subscribe(device, after);
            _subscriptions.Add(device, sub);
        }
        _ = PumpEventsAsync(sub, device);
        var text = $"Monitor {device}: events after {sub.StartsAfter}";
        if (sub.SequenceReset) text += $" (sequence {after} is unknown: the server restarted, events before it are lost)";
        else if (sub.Missed > 0) text += $" ({sub.Missed} earlier events are no longer buffered)";
        return CallControlResult.Ok(text);
    }

    private async Task PumpEventsAsync(CallEventSubscription sub, string device)
    {
        // Let the reply to Monitor go out first; the pump writes under the same lock as replies.
        await Task.Yield();
        try
        {
            while (await sub.Reader.WaitToReadAsync(_closed.Token).ConfigureAwait(false))
            {
                await _writeLock.WaitAsync(_closed.Token).ConfigureAwait(false);
                try
                {
                    while (sub.Reader.TryRead(out var ev)) ReplyWriter.WriteLine(_writer, ev.ToLine());
                    await FlushAsync().ConfigureAwait(false);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
        }
        catch (SubscriberTooSlowException ex)
        {
            InterfaceLog.MonitorTooSlow(_log, device, _remote, ex.LastDelivered);
            try
            {
                await WriteAndFlushAsync(w => ReplyWriter.WriteReply(w, CallControlResult.Fail(ReplyCode.Unavailable,
                    $"Monitor {device}: events arrive faster than this client reads them; reconnect with Monitor {device} {ex.LastDelivered}"))).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
            _closed.Cancel();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_subscriptions)
        {
            foreach (var s in _subscriptions.Values) s.Dispose();
            _subscriptions.Clear();
        }
        if (!_closed.IsCancellationRequested) _closed.Cancel();
        // Everything owed was flushed by the loops; closing the socket first means completing the pipes can never
        // block on a client that stopped reading.
        _stream.Dispose();
        _socket.Dispose();
        try
        {
            await _writer.CompleteAsync().ConfigureAwait(false);
            await _reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _closed.Dispose();
    }

    private int _disposed;
}
