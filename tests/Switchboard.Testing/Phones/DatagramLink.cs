using System.Net;
using System.Net.Sockets;
using Switchboard.Sip.Transport;

namespace Switchboard.Testing.Phones;

/// <summary>Where a <see cref="RawPhone"/> sends and receives its datagrams: a real UDP socket or an in-memory endpoint.</summary>
public interface IDatagramLink : IDisposable
{
    /// <summary>The phone's own address.</summary>
    IPEndPoint Local { get; }

    /// <summary>Sends one datagram.</summary>
    ValueTask SendAsync(byte[] datagram, IPEndPoint to);

    /// <summary>The next datagram and where it came from.</summary>
    ValueTask<(byte[] Datagram, IPEndPoint From)> ReceiveAsync(CancellationToken cancellationToken);
}

/// <summary>A real UDP socket (loopback, or inside a network namespace).</summary>
public sealed class UdpLink(Socket socket) : IDatagramLink
{
    private readonly byte[] _buffer = new byte[65_536];

    /// <inheritdoc />
    public IPEndPoint Local => (IPEndPoint)socket.LocalEndPoint!;

    /// <inheritdoc />
    public async ValueTask SendAsync(byte[] datagram, IPEndPoint to) => await socket.SendToAsync(datagram, SocketFlags.None, to);

    /// <inheritdoc />
    public async ValueTask<(byte[] Datagram, IPEndPoint From)> ReceiveAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var r = await socket.ReceiveFromAsync(_buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken);
                return (_buffer.AsSpan(0, r.ReceivedBytes).ToArray(), (IPEndPoint)r.RemoteEndPoint);
            }
            catch (SocketException) when (!cancellationToken.IsCancellationRequested)
            {
                // ICMP port unreachable from an earlier send: concerns that send only.
            }
            catch (ObjectDisposedException ex)
            {
                throw new OperationCanceledException("the socket is closed", ex);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => socket.Dispose();
}

/// <summary>An endpoint of an <see cref="InMemorySipNetwork"/> (a fake of UDP: no kernel, no ports).</summary>
public sealed class InMemoryLink(InMemoryDatagramSocket socket) : IDatagramLink
{
    /// <inheritdoc />
    public IPEndPoint Local => socket.LocalEndPoint;

    /// <inheritdoc />
    public ValueTask SendAsync(byte[] datagram, IPEndPoint to)
    {
        socket.SendTo(datagram, to);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<(byte[] Datagram, IPEndPoint From)> ReceiveAsync(CancellationToken cancellationToken) => socket.ReceiveFromAsync(cancellationToken);

    /// <inheritdoc />
    public void Dispose() => socket.Dispose();
}
