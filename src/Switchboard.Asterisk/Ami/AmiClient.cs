using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Asterisk.Ami;

/// <summary>Connection settings of the AMI client.</summary>
public sealed class AmiClientOptions
{
    /// <summary>Asterisk host.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>AMI TCP port.</summary>
    public int Port { get; set; } = 5038;

    /// <summary>manager.conf user.</summary>
    public string Username { get; set; } = "";

    /// <summary>manager.conf secret; sent in plain text (use AMI only on loopback or a trusted network) and never logged.</summary>
    public string Secret { get; set; } = "";

    /// <summary>How long an action may wait for its response.</summary>
    public TimeSpan ActionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Keep-alive Ping interval; a Ping without answer closes the connection.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>First reconnect delay; it doubles per failed attempt up to <see cref="ReconnectMaxDelay"/>, with jitter.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Limits for incoming data.</summary>
    public AmiLimits Limits { get; set; } = new();
}

/// <summary>Asterisk refused the login.</summary>
public sealed class AmiLoginException(string message) : Exception(message);

/// <summary>The AMI connection is down or was lost before the answer came.</summary>
public sealed class AmiConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// An AMI client: TCP, banner, plain-secret Login, ActionID correlation, event lists, keep-alive Ping and reconnect with
/// exponential back-off and jitter. Events and list completions are handled on the reading task, in wire order.
/// </summary>
public sealed partial class AmiClient : IAsyncDisposable
{
    private readonly AmiClientOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly string _idPrefix = "sb" + Random.Shared.Next(0x1000, 0xFFFF).ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "-";
    private long _nextId;
    private Session? _session;
    private volatile bool _loggedIn;

    /// <summary>Creates the client; nothing connects until <see cref="RunAsync"/> or <see cref="ConnectAsync"/>.</summary>
    public AmiClient(AmiClientOptions options, ILogger? log = null, TimeProvider? time = null)
    {
        _options = options;
        _log = log ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Called on the reading task for every event that is not a list item; keep it short and non-blocking.</summary>
    public Action<AmiEvent>? EventReceived { get; set; }

    /// <summary>Called after each successful login, before <see cref="IsConnected"/> turns true (re-read state here).</summary>
    public Func<CancellationToken, Task>? LoggedIn { get; set; }

    /// <summary>Called when a logged-in connection is lost.</summary>
    public Action<Exception?>? Disconnected { get; set; }

    /// <summary>True while logged in.</summary>
    public bool IsConnected => _loggedIn && _session is not null;

    /// <summary>The banner of the current connection, e.g. "Asterisk Call Manager/11.0.0".</summary>
    public string? Banner { get; private set; }

    /// <summary>Keeps a connection up until cancelled: connect, log in, run, and after a loss reconnect with back-off.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        int attempt = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            Session? session = null;
            try
            {
                session = await ConnectAsync(cancellationToken).ConfigureAwait(false);
                attempt = 0;
                using var pingCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var pinger = PingLoopAsync(session, pingCts.Token);
                await session.Reader.ConfigureAwait(false);
                await pingCts.CancelAsync().ConfigureAwait(false);
                await pinger.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (AmiLoginException ex)
            {
                LogLoginRefused(_log, _options.Host, _options.Port, _options.Username, ex.Message);
            }
            catch (Exception ex)
            {
                LogConnectFailed(_log, _options.Host, _options.Port, ex.Message);
            }
            finally
            {
                if (session is not null) CloseSession(session, null);
            }
            if (cancellationToken.IsCancellationRequested) break;
            var delay = BackOff(attempt++);
            LogReconnectIn(_log, (int)delay.TotalMilliseconds);
            try { await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>The delay before reconnect attempt n: exponential, capped, with up to 50 % jitter so many clients do not reconnect in step.</summary>
    public TimeSpan BackOff(int attempt)
    {
        var max = _options.ReconnectMaxDelay.TotalMilliseconds;
        var baseMs = Math.Min(max, _options.ReconnectMinDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20)));
        return TimeSpan.FromMilliseconds(baseMs * (0.5 + Random.Shared.NextDouble() * 0.5));
    }

    /// <summary>Connects once, reads the banner and logs in; the returned session ends when the connection is lost.</summary>
    internal async Task<Session> ConnectAsync(CancellationToken cancellationToken)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                cts.CancelAfter(_options.ActionTimeout);
                await tcp.ConnectAsync(_options.Host, _options.Port, cts.Token).ConfigureAwait(false);
            }
            var stream = tcp.GetStream();
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024));
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                cts.CancelAfter(_options.ActionTimeout);
                Banner = await ReadBannerAsync(reader, cts.Token).ConfigureAwait(false);
            }
            if (!Banner.StartsWith("Asterisk Call Manager/", StringComparison.Ordinal))
                throw new AmiProtocolException($"not an Asterisk manager interface (banner '{Truncate(Banner)}')");
            var session = new Session(tcp, stream);
            _session = session;
            session.Reader = Task.Run(() => ReadLoopAsync(session, reader), CancellationToken.None);
            var login = new AmiAction("Login").Add("Username", _options.Username).Add("Secret", _options.Secret).Add("Events", "on");
            AmiResponse r;
            try
            {
                r = await SendAsync(login, cancellationToken).ConfigureAwait(false);
            }
            catch (AmiConnectionException ex)
            {
                throw new AmiLoginException("connection closed during login: " + ex.Message);
            }
            if (!r.IsSuccess) throw new AmiLoginException(r.Message.Length > 0 ? r.Message : r.Packet.Kind);
            session.LoginDone = true;
            LogLoggedIn(_log, _options.Host, _options.Port, _options.Username, Banner);
            if (LoggedIn is { } onLogin) await onLogin(cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref session.Closed) != 0) throw new AmiConnectionException("connection lost right after login");
            _loggedIn = true;
            return session;
        }
        catch
        {
            if (_session is { } s) CloseSession(s, null);
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends an action and waits for its response (and its list items). <paramref name="onCompleted"/> runs on the
    /// reading task before any later packet is handled, so state changes it makes are ordered with the event stream.
    /// </summary>
    public async Task<AmiResponse> SendAsync(AmiAction action, CancellationToken cancellationToken = default, Action<AmiResponse>? onCompleted = null)
    {
        var session = _session ?? throw new AmiConnectionException("not connected to Asterisk");
        var id = _idPrefix + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var pending = new Pending(onCompleted);
        _pending[id] = pending;
        try
        {
            var sb = new StringBuilder(128);
            sb.Append("Action: ").Append(action.Name).Append("\r\nActionID: ").Append(id).Append("\r\n");
            foreach (var h in action.Headers) sb.Append(h.Key).Append(": ").Append(h.Value).Append("\r\n");
            sb.Append("\r\n");
            var bytes = Encoding.UTF8.GetBytes(sb.ToString());
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await session.Stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
                throw new AmiConnectionException("connection to Asterisk lost", ex);
            }
            finally
            {
                _writeLock.Release();
            }
            LogActionSent(_log, action.Name, id);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_options.ActionTimeout);
            try
            {
                return await pending.Tcs.Task.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Asterisk did not answer {action.Name} within {_options.ActionTimeout.TotalSeconds:0.#} s");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Logs off politely (best effort) and closes the connection.</summary>
    public async Task LogoffAsync()
    {
        if (_session is not { } s) return;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await SendAsync(new AmiAction("Logoff"), cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AmiConnectionException or TimeoutException or OperationCanceledException)
        {
            LogLogoffUnanswered(_log, ex.Message);
        }
        CloseSession(s, null);
    }

    /// <summary>Closes the current connection (the run loop reconnects); for keep-alive failures and tests.</summary>
    public void Abort() { if (_session is { } s) CloseSession(s, null); }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await LogoffAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }

    private async Task<string> ReadBannerAsync(PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (AmiPacketParser.TryReadLine(ref buffer, _options.Limits.MaxLineBytes, out var line))
            {
                reader.AdvanceTo(buffer.Start);
                return line;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) throw new AmiConnectionException("connection closed before the banner");
        }
    }

    private async Task ReadLoopAsync(Session session, PipeReader reader)
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                while (AmiPacketParser.TryReadPacket(ref buffer, _options.Limits, out var packet)) Dispatch(packet!);
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (AmiProtocolException ex)
        {
            error = ex;
            LogProtocolError(_log, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            CloseSession(session, error);
        }
    }

    private void Dispatch(AmiPacket packet)
    {
        var id = packet.ActionId;
        if (packet.IsResponse)
        {
            if (id is null || !_pending.TryGetValue(id, out var p))
            {
                LogUnexpectedResponse(_log, id);
                return;
            }
            if (packet["EventList"] is { } list && list.Equals("start", StringComparison.OrdinalIgnoreCase))
            {
                p.Response = packet;
                return;
            }
            p.Complete(new AmiResponse(packet, []), _log);
            return;
        }
        if (!packet.IsEvent) return;
        // Only an action that is collecting a list takes events with its ActionID: an OriginateResponse carries the
        // ActionID of an Originate that was answered long ago and is an ordinary event.
        if (id is not null && _pending.TryGetValue(id, out var owner) && owner.Response is { } start)
        {
            if (string.Equals(packet["EventList"], "Complete", StringComparison.OrdinalIgnoreCase) || packet.Kind.EndsWith("Complete", StringComparison.Ordinal))
                owner.Complete(new AmiResponse(start, owner.Items), _log);
            else if (owner.Items.Count < _options.Limits.MaxListItems)
                owner.Items.Add(packet);
            else if (owner.Items.Count == _options.Limits.MaxListItems)
                LogListTooLong(_log, id, _options.Limits.MaxListItems);
            return;
        }
        try
        {
            EventReceived?.Invoke(AmiEvent.From(packet));
        }
        catch (Exception ex)
        {
            LogEventHandlerFailed(_log, ex, packet.Kind);
        }
    }

    private async Task PingLoopAsync(Session session, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(_options.PingInterval, _time, ct).ConfigureAwait(false);
                try
                {
                    await SendAsync(new AmiAction("Ping"), ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is TimeoutException or AmiConnectionException)
                {
                    LogKeepAliveFailed(_log, ex.Message);
                    CloseSession(session, ex);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Normal end of the session.
        }
    }

    private void CloseSession(Session session, Exception? error)
    {
        if (Interlocked.Exchange(ref session.Closed, 1) != 0) return;
        bool wasUp = session.LoginDone && ReferenceEquals(_session, session);
        if (ReferenceEquals(_session, session))
        {
            _loggedIn = false;
            _session = null;
        }
        try { session.Tcp.Dispose(); } catch (ObjectDisposedException) { }
        foreach (var (id, p) in _pending)
            if (_pending.TryRemove(id, out _)) p.Tcs.TrySetException(new AmiConnectionException("connection to Asterisk lost"));
        if (wasUp)
        {
            LogConnectionLost(_log, _options.Host, _options.Port);
            try { Disconnected?.Invoke(error); }
            catch (Exception ex) { LogDisconnectHandlerFailed(_log, ex); }
        }
    }

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "…" : s;

    internal sealed class Session(TcpClient tcp, NetworkStream stream)
    {
        public TcpClient Tcp { get; } = tcp;
        public NetworkStream Stream { get; } = stream;
        public Task Reader { get; set; } = Task.CompletedTask;
        public int Closed;
        public volatile bool LoginDone;
    }

    private sealed class Pending(Action<AmiResponse>? onCompleted)
    {
        public TaskCompletionSource<AmiResponse> Tcs { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public AmiPacket? Response { get; set; }
        public List<AmiPacket> Items { get; } = [];

        public void Complete(AmiResponse r, ILogger log)
        {
            try { onCompleted?.Invoke(r); }
            catch (Exception ex) { log.LogError(ex, "AMI completion handler failed"); }
            Tcs.TrySetResult(r);
        }
    }
}
