using System.Net;
using Microsoft.Extensions.Logging;

namespace Switchboard.Sip.Transport;

/// <summary>Log lines of the transport and transactions with stable event IDs (5061–5099); values from the network are escaped.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 5061, Level = LogLevel.Warning, Message = "Malformed SIP message from {From}: {Error}")]
    public static partial void Malformed(ILogger log, SipEndPoint from, string error);

    [LoggerMessage(EventId = 5062, Level = LogLevel.Warning, Message = "SIP datagram of {Bytes} bytes from {From} exceeds the limit; dropped")]
    public static partial void DatagramTooLarge(ILogger log, int bytes, SipEndPoint from);

    [LoggerMessage(EventId = 5063, Level = LogLevel.Warning, Message = "SIP: refusing TCP connection from {From}: {Max} open from this address (MaxTcpConnectionsPerSource)")]
    public static partial void TcpSourceFull(ILogger log, IPEndPoint from, int max);

    [LoggerMessage(EventId = 5064, Level = LogLevel.Warning, Message = "SIP: refusing TCP connection from {From}: {Max} open (MaxTcpConnections)")]
    public static partial void TcpServerFull(ILogger log, IPEndPoint from, int max);

    [LoggerMessage(EventId = 5065, Level = LogLevel.Information, Message = "SIP: closing TCP connection from {From}: no complete SIP message within {Seconds} s")]
    public static partial void TcpNoFirstMessage(ILogger log, IPEndPoint from, double seconds);

    [LoggerMessage(EventId = 5066, Level = LogLevel.Warning, Message = "SIP: TLS handshake from {From} failed ({Reason}): {Detail}; connection closed")]
    public static partial void TlsHandshakeFailed(ILogger log, IPEndPoint from, TlsRejection reason, string detail);

    [LoggerMessage(EventId = 5067, Level = LogLevel.Warning, Message = "SIP: TLS server {Peer} (expected name {Host}) refused: {Reason}")]
    public static partial void TlsServerRejected(ILogger log, IPEndPoint peer, string host, string reason);

    [LoggerMessage(EventId = 5068, Level = LogLevel.Warning, Message = "SIP: TLS to {Peer} ({Host}) without certificate verification (TlsVerify=false): the connection is encrypted but the server is not authenticated")]
    public static partial void TlsUnverified(ILogger log, IPEndPoint peer, string host);

    [LoggerMessage(EventId = 5069, Level = LogLevel.Information, Message = "SIP TLS certificate {Subject} from {Source}, valid until {NotAfter:u}, SHA-256 fingerprint {Fingerprint}")]
    public static partial void TlsCertificate(ILogger log, string subject, string source, DateTime notAfter, string fingerprint);

    [LoggerMessage(EventId = 5070, Level = LogLevel.Warning, Message = "SIP TLS certificate {Path} expired on {NotAfter:u}; phones that verify it will refuse to connect")]
    public static partial void TlsCertificateExpired(ILogger log, string path, DateTime notAfter);

    [LoggerMessage(EventId = 5071, Level = LogLevel.Debug, Message = "SIP send to {To} failed: {Error}")]
    public static partial void SendFailed(ILogger log, SipEndPoint to, string error);

    [LoggerMessage(EventId = 5072, Level = LogLevel.Error, Message = "SIP handler failed for a message from {From}")]
    public static partial void HandlerFailed(ILogger log, Exception ex, SipEndPoint from);

    [LoggerMessage(EventId = 5073, Level = LogLevel.Warning, Message = "SIP stream from {From}: message exceeds {Max} bytes; closing")]
    public static partial void StreamMessageTooLarge(ILogger log, SipEndPoint from, int max);

    [LoggerMessage(EventId = 5074, Level = LogLevel.Debug, Message = "ACK to {To} failed: {Error}")]
    public static partial void AckSendFailed(ILogger log, SipEndPoint to, string error);

    [LoggerMessage(EventId = 5075, Level = LogLevel.Error, Message = "SIP transaction user failed")]
    public static partial void TransactionUserFailed(ILogger log, Exception ex);

    [LoggerMessage(EventId = 5076, Level = LogLevel.Information, Message = "No ACK for {Code} to INVITE {CallId} from {Source}")]
    public static partial void NoAck(ILogger log, int? code, string callId, SipEndPoint source);
}
