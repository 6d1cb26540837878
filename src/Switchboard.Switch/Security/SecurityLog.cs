using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Transport;

namespace Switchboard.Switch.Security;

/// <summary>
/// Security events of the SIP switch in one stable line format, so fail2ban (or any log scanner) can match them, as
/// Asterisk's security events do:
/// <code>SecurityEvent=InvalidPassword Service=SIP Account="101" RemoteAddress=192.0.2.7 RemotePort=5070 Transport=udp Detail="…"</code>
/// A jail needs only <c>failregex = SecurityEvent=(InvalidPassword|InvalidAccount) .* RemoteAddress=&lt;HOST&gt; </c>. The
/// account comes from the network and is escaped (printable ASCII without quotes or backslashes, at most 64
/// characters, everything else as \xNN), so it cannot forge a second line or move the RemoteAddress field. Event IDs
/// 4100–4199 are reserved for these lines.
/// </summary>
internal static partial class SecurityLog
{
    /// <summary>Wrong password for an existing device.</summary>
    public static void InvalidPassword(ILogger log, SipEndPoint source, string? account, string detail) =>
        InvalidPasswordLine(log, Escape(account), Address(source), source.Address.Port, Transport(source), detail);

    /// <summary>Credentials for a user name that is no device.</summary>
    public static void InvalidAccount(ILogger log, SipEndPoint source, string? account, string detail) =>
        InvalidAccountLine(log, Escape(account), Address(source), source.Address.Port, Transport(source), detail);

    /// <summary>A user from an address was blocked (logged once, when the block starts or grows).</summary>
    public static void Blocked(ILogger log, SipEndPoint source, string? account, TimeSpan block) =>
        BlockedLine(log, Escape(account), Address(source), source.Address.Port, Transport(source), (int)Math.Ceiling(block.TotalSeconds));

    /// <summary>An address went over its request rate (logged once per burst).</summary>
    public static void RateLimited(ILogger log, SipEndPoint source) =>
        RateLimitedLine(log, Address(source), source.Address.Port, Transport(source));

    /// <summary>A right answer whose nonce was used already, or credentials of another request: a replay.</summary>
    public static void ReplayRejected(ILogger log, SipEndPoint source, string? account, string detail) =>
        ReplayRejectedLine(log, Escape(account), Address(source), source.Address.Port, Transport(source), detail);

    /// <summary>A successful login (debug level: every registration refresh has one).</summary>
    public static void SuccessfulAuth(ILogger log, SipEndPoint source, string account) =>
        SuccessfulAuthLine(log, Escape(account), Address(source), source.Address.Port, Transport(source));

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning,
        Message = "SecurityEvent=InvalidPassword Service=SIP Account=\"{Account}\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"{Detail}\"")]
    private static partial void InvalidPasswordLine(ILogger log, string account, string remoteAddress, int remotePort, string transport, string detail);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning,
        Message = "SecurityEvent=InvalidAccount Service=SIP Account=\"{Account}\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"{Detail}\"")]
    private static partial void InvalidAccountLine(ILogger log, string account, string remoteAddress, int remotePort, string transport, string detail);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning,
        Message = "SecurityEvent=Blocked Service=SIP Account=\"{Account}\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"blocked for {Seconds} s\"")]
    private static partial void BlockedLine(ILogger log, string account, string remoteAddress, int remotePort, string transport, int seconds);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning,
        Message = "SecurityEvent=RateLimited Service=SIP Account=\"\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"over Sip:AuthRequestsPerSecond\"")]
    private static partial void RateLimitedLine(ILogger log, string remoteAddress, int remotePort, string transport);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning,
        Message = "SecurityEvent=ReplayRejected Service=SIP Account=\"{Account}\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"{Detail}\"")]
    private static partial void ReplayRejectedLine(ILogger log, string account, string remoteAddress, int remotePort, string transport, string detail);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Debug,
        Message = "SecurityEvent=SuccessfulAuth Service=SIP Account=\"{Account}\" RemoteAddress={RemoteAddress} RemotePort={RemotePort} Transport={Transport} Detail=\"\"")]
    private static partial void SuccessfulAuthLine(ILogger log, string account, string remoteAddress, int remotePort, string transport);

    /// <summary>The account as it may stand between the quotes of a log line.</summary>
    internal static string Escape(string? account)
    {
        if (string.IsNullOrEmpty(account)) return "";
        var sb = new StringBuilder(Math.Min(account.Length, 64));
        int shown = 0;
        foreach (var c in account)
        {
            if (shown++ == 64)
            {
                sb.Append("\\x2E\\x2E\\x2E");
                break;
            }
            if (c is >= ' ' and <= '~' and not '"' and not '\\') sb.Append(c);
            else sb.Append("\\x").Append(((int)c).ToString(c > 0xFF ? "X4" : "X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static string Address(SipEndPoint source)
    {
        var a = source.Address.Address;
        return (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString();
    }

    private static string Transport(SipEndPoint source) => source.Protocol.ToString().ToLowerInvariant();
}
