using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Interface.Commands;
using Switchboard.Telephony;

namespace Switchboard.Interface.Datagram;

/// <summary>
/// The UDP datagram socket of the IP interface: a datagram carries one or several command lines; the answer is one
/// datagram back to the sender's address and port holding one reply line per command line, in order.
/// </summary>
internal sealed class DatagramFrontEnd : IDisposable
{
    private readonly CommandInterpreter _interpreter;
    private readonly IpInterfaceOptions _options;
    private readonly ILogger _log;
    private readonly Socket _socket;
    private Task? _loop;

    public DatagramFrontEnd(CommandInterpreter interpreter, IpInterfaceOptions options, IPEndPoint bind, ILogger log)
    {
        _interpreter = interpreter;
        _options = options;
        _log = log;
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.AddressFamily == AddressFamily.InterNetworkV6 && bind.Address.Equals(IPAddress.IPv6Any)) _socket.DualMode = true;
            _socket.Bind(bind);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public void Start(CancellationToken stopping) => _loop = ReceiveLoopAsync(stopping);

    private async Task ReceiveLoopAsync(CancellationToken stopping)
    {
        var buffer = new byte[65536];
        EndPoint any = _socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        var replies = new StringBuilder();
        while (!stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // ICMP port-unreachable from an earlier reply surfaces here on Linux; it concerns that client only.
                InterfaceLog.UdpReceiveFailed(_log, ex.Message);
                continue;
            }
            var remote = (IPEndPoint)received.RemoteEndPoint;
            var context = new ClientContext(FrontEndKind.Udp, remote.Address);
            replies.Clear();
            int lines = 0;
            // Lines are cut from the bytes one at a time: a datagram of 30,000 tiny lines makes no 30,000 strings, only
            // the first MaxLinesPerDatagram are looked at, and an over-long line is never decoded at all.
            int offset = 0, length = received.ReceivedBytes;
            while (offset < length)
            {
                var rest = buffer.AsSpan(offset, length - offset);
                int end = rest.IndexOfAny((byte)'\r', (byte)'\n');
                var raw = end < 0 ? rest : rest[..end];
                offset += end < 0 ? rest.Length : end + 1;
                // Whitespace-only lines are empty lines, ignored as on TCP and in dial files.
                if (raw.Trim(" \t"u8).IsEmpty) continue;
                CallControlResult reply;
                if (++lines > _options.MaxLinesPerDatagram)
                {
                    reply = CallControlResult.Fail(ReplyCode.BadRequest, $"more than {_options.MaxLinesPerDatagram} commands in one datagram; the rest were ignored");
                    replies.Append(reply.ToString()).Append("\r\n");
                    break;
                }
                // Latin-1 keeps every byte as one char, so the parser can name garbage bytes in its reply.
                reply = raw.Length > _options.MaxLineLength
                    ? CallControlResult.Fail(ReplyCode.BadRequest, $"line too long (more than {_options.MaxLineLength} bytes); discarded")
                    : await _interpreter.ExecuteAsync(Encoding.Latin1.GetString(raw), context, stopping).ConfigureAwait(false);
                replies.Append(reply.ToString()).Append("\r\n");
            }
            if (replies.Length == 0) continue;
            try
            {
                await _socket.SendToAsync(Encoding.ASCII.GetBytes(replies.ToString()), SocketFlags.None, remote, stopping).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                InterfaceLog.UdpReplyFailed(_log, remote, ex.Message);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _loop?.Wait(TimeSpan.FromSeconds(2));
    }
}
