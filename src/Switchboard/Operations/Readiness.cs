using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Asterisk;
using Switchboard.Storage;
using Switchboard.Switch;
using Switchboard.Switch.Trunks;

namespace Switchboard.Operations;

/// <summary>One readiness check's result.</summary>
public sealed record ReadinessCheck(string Name, bool Ok, string Detail);

/// <summary>
/// /health/ready: the SIP port answers (an OPTIONS sent to it over loopback gets a reply, so a port that is bound
/// but unreachable counts as down), the database takes writes, the Asterisk connector is logged in, every trunk is
/// registered. Each check is what an operator would otherwise test by hand.
/// </summary>
public sealed class Readiness(IServiceProvider services)
{
    /// <summary>How long the SIP self-probe waits for its reply.</summary>
    public TimeSpan SipProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Runs every check that applies to this phone system.</summary>
    public async Task<IReadOnlyList<ReadinessCheck>> CheckAsync(CancellationToken cancellationToken)
    {
        var checks = new List<ReadinessCheck>();
        var store = services.GetRequiredService<SqliteStore>();
        checks.Add(store.Lost is { } lost ? new("database", false, lost) : new("database", true, "writable"));
        if (services.GetService<SipSwitch>() is { } sw)
        {
            checks.Add(await ProbeSipAsync(sw, cancellationToken).ConfigureAwait(false));
            foreach (var t in sw.TrunkRegistrations)
                checks.Add(new("trunk " + t.Name, t.State == TrunkRegistrationState.Registered,
                    t.State.ToString().ToLowerInvariant() + (t.LastError is { } e ? " (" + e + ")" : "")));
        }
        if (services.GetService<AsteriskPhoneSystem>() is { } asterisk)
            checks.Add(new("asterisk", asterisk.IsConnected, asterisk.IsConnected ? "connected" : "not connected"));
        return checks;
    }

    private async Task<ReadinessCheck> ProbeSipAsync(SipSwitch sw, CancellationToken cancellationToken)
    {
        IPEndPoint local;
        try
        {
            local = sw.LocalEndPoint;
        }
        catch (Exception ex) when (ex is InvalidOperationException or NullReferenceException or ObjectDisposedException)
        {
            return new("sip", false, "not listening");
        }
        var target = local.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, local.Port)
            : local.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, local.Port) : local;
        using var probe = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        var me = (IPEndPoint)probe.LocalEndPoint!;
        var host = target.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{target.Address}]" : target.Address.ToString();
        var meHost = me.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{me.Address}]" : me.Address.ToString();
        var callId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        var options = $"OPTIONS sip:{host}:{target.Port} SIP/2.0\r\nVia: SIP/2.0/UDP {meHost}:{me.Port};branch=z9hG4bK{callId};rport\r\n" +
            $"Max-Forwards: 70\r\nFrom: <sip:health@{meHost}>;tag={callId}\r\nTo: <sip:{host}:{target.Port}>\r\nCall-ID: health-{callId}\r\n" +
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SipProbeTimeout);
        try
        {
            await probe.SendToAsync(Encoding.ASCII.GetBytes(options), SocketFlags.None, target, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[4096];
            while (true)
            {
                int n = await probe.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var reply = Encoding.ASCII.GetString(buffer, 0, n);
                if (reply.StartsWith("SIP/2.0 ", StringComparison.Ordinal) && reply.Contains("health-" + callId, StringComparison.Ordinal))
                    return new("sip", true, $"answering on {local}");
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            return new("sip", false, $"no answer on {target} within {SipProbeTimeout.TotalSeconds:0.#} s");
        }
    }
}
