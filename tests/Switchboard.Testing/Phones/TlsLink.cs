using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Testing.Phones;

/// <summary>
/// SIP over TLS for a <see cref="RawPhone"/>: one real TLS connection to the switch's TLS port, framed by
/// Content-Length (RFC 3261 §18.3). Every message goes to the switch over that connection, whatever address the
/// phone names; everything the switch sends arrives from <see cref="Remote"/>. The switch's certificate is not checked
/// (tests of certificates are elsewhere): this link is about what the switch does with a phone reached over TLS.
/// </summary>
public sealed class TlsLink : IDatagramLink
{
    private const int MaxMessage = 65_536;
    private readonly TcpClient _tcp;
    private readonly SslStream _ssl;
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly byte[] _buffer = new byte[MaxMessage * 2];
    private int _filled;

    private TlsLink(TcpClient tcp, SslStream ssl, IPEndPoint remote)
    {
        _tcp = tcp;
        _ssl = ssl;
        Remote = remote;
        Local = (IPEndPoint)tcp.Client.LocalEndPoint!;
    }

    /// <summary>Connects to <paramref name="server"/> and completes the TLS handshake.</summary>
    public static async Task<TlsLink> ConnectAsync(IPEndPoint server)
    {
        var tcp = new TcpClient(server.AddressFamily);
        try
        {
            await tcp.ConnectAsync(server);
            var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = server.Address.ToString() });
            return new TlsLink(tcp, ssl, server);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>A <see cref="RawPhone"/> on a new TLS connection to the switch's TLS port <paramref name="server"/>.</summary>
    public static async Task<RawPhone> PhoneAsync(string device, string password, IPEndPoint server) =>
        new(await ConnectAsync(server), device, password, server);

    /// <inheritdoc />
    public IPEndPoint Local { get; }

    /// <summary>The switch's end of the connection.</summary>
    public IPEndPoint Remote { get; }

    /// <inheritdoc />
    public async ValueTask SendAsync(byte[] datagram, IPEndPoint to)
    {
        await _write.WaitAsync();
        try
        {
            await _ssl.WriteAsync(datagram);
            await _ssl.FlushAsync();
        }
        finally
        {
            _write.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<(byte[] Datagram, IPEndPoint From)> ReceiveAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeMessage() is { } message) return (message, Remote);
            if (_filled == _buffer.Length) throw new InvalidDataException($"a SIP message over {MaxMessage} bytes on the TLS connection");
            int n;
            try
            {
                n = await _ssl.ReadAsync(_buffer.AsMemory(_filled), cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                throw new OperationCanceledException("the TLS connection is closed", ex);
            }
            if (n == 0) throw new OperationCanceledException("the switch closed the TLS connection");
            _filled += n;
        }
    }

    /// <summary>One whole message from the front of the buffer (keep-alive CRLFs skipped), or null when it is not all here.</summary>
    private byte[]? TryTakeMessage()
    {
        int start = 0;
        while (start + 1 < _filled && _buffer[start] == '\r' && _buffer[start + 1] == '\n') start += 2;
        var span = _buffer.AsSpan(start, _filled - start);
        int end = span.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            Consume(start);
            return null;
        }
        int length = end + 4 + ContentLength(Encoding.ASCII.GetString(span[..end]));
        if (length > MaxMessage) throw new InvalidDataException($"a SIP message of {length} bytes on the TLS connection");
        if (span.Length < length)
        {
            Consume(start);
            return null;
        }
        var message = span[..length].ToArray();
        Consume(start + length);
        return message;
    }

    private void Consume(int count)
    {
        if (count == 0) return;
        _buffer.AsSpan(count, _filled - count).CopyTo(_buffer);
        _filled -= count;
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) continue;
            var name = line[..colon].Trim();
            if ((name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("l", StringComparison.OrdinalIgnoreCase))
                && int.TryParse(line[(colon + 1)..].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
                return n;
        }
        return 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ssl.Dispose();
        _tcp.Dispose();
        _write.Dispose();
    }
}
