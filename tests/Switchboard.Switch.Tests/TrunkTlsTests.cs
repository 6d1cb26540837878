using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Trunks;

namespace Switchboard.Switch.Tests;

/// <summary>
/// A trunk with <c>Transport=tls</c> registering at a local TLS registrar: with a certificate for its host from the
/// trust file it registers over TLS; an expired or wrong-host certificate stops it before any SIP is sent, and the
/// registration shows why; <c>TlsVerify=false</c> connects anyway.
/// </summary>
public sealed class TrunkTlsTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-trunktls-").FullName;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<string> _received = [];
    private X509Certificate2? _cert;
    private Task? _server;
    private readonly CancellationTokenSource _stop = new();

    public TrunkTlsTests() => _listener.Start();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        if (_server is not null) await _server.ContinueWith(_ => { }, TaskScheduler.Default);
        _cert?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Serves TLS with <paramref name="cert"/>; answers each REGISTER with 200 OK and records what came.</summary>
    private string Serve(X509Certificate2 cert)
    {
        _cert = cert;
        _server = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                await using var ssl = new SslStream(client.GetStream());
                try
                {
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert }, _stop.Token);
                    var buffer = new byte[8192];
                    while (true)
                    {
                        int n = await ssl.ReadAsync(buffer, _stop.Token);
                        if (n == 0) break;
                        var text = Encoding.ASCII.GetString(buffer, 0, n);
                        lock (_received) _received.Add(text);
                        await ssl.WriteAsync(Encoding.ASCII.GetBytes(Ok(text)), _stop.Token);
                    }
                }
                catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
                {
                }
            }
        });
        var trust = Path.Combine(_dir, "provider-ca.pem");
        File.WriteAllText(trust, cert.ExportCertificatePem());
        return trust;
    }

    private static string Ok(string request)
    {
        var lines = request.Split("\r\n");
        var sb = new StringBuilder("SIP/2.0 200 OK\r\n");
        foreach (var l in lines)
        {
            if (l.StartsWith("Via:", StringComparison.Ordinal) || l.StartsWith("From:", StringComparison.Ordinal)
                || l.StartsWith("Call-ID:", StringComparison.Ordinal) || l.StartsWith("CSeq:", StringComparison.Ordinal)
                || l.StartsWith("Contact:", StringComparison.Ordinal))
                sb.Append(l).Append("\r\n");
            else if (l.StartsWith("To:", StringComparison.Ordinal))
                sb.Append(l).Append(";tag=reg1\r\n");
        }
        return sb.Append("Expires: 600\r\nContent-Length: 0\r\n\r\n").ToString();
    }

    private TrunkFixture Fixture(string trust, bool verify = true) => new(t =>
    {
        t.Transport = "tls";
        t.Port = Port;
        t.Register = true;
        t.TrustFile = trust;
        t.TlsVerify = verify;
    });

    [Fact]
    public async Task A_trusted_certificate_for_the_host_registers_over_tls_with_a_tls_via_and_contact()
    {
        var trust = Serve(SipTlsCertificates.CreateSelfSigned("127.0.0.1", TimeSpan.FromDays(30)));
        await using var f = Fixture(trust);
        var reg = Assert.Single(f.Switch.TrunkRegistrations);
        await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Registered, "the trunk to register over TLS");
        string first;
        lock (_received) first = _received[0];
        Assert.StartsWith("REGISTER sip:127.0.0.1:" + Port + " SIP/2.0\r\n", first);
        Assert.Contains("Via: SIP/2.0/TLS 127.0.0.1:" + f.Switch.TlsEndPoint!.Port, first);
        Assert.Contains(";transport=tls>", first);
    }

    [Fact]
    public async Task An_expired_certificate_stops_the_registration_before_any_sip_and_says_why()
    {
        var trust = Serve(SipTlsCertificates.CreateSelfSigned("127.0.0.1", TimeSpan.FromDays(30), DateTimeOffset.UtcNow.AddDays(-60)));
        await using var f = Fixture(trust);
        var reg = Assert.Single(f.Switch.TrunkRegistrations);
        await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the registration to fail");
        Assert.Contains("NotTimeValid", reg.LastError);
        lock (_received) Assert.Empty(_received);
    }

    [Fact]
    public async Task A_certificate_for_another_host_stops_the_registration_as_a_name_mismatch()
    {
        var trust = Serve(SipTlsCertificates.CreateSelfSigned("sip.elsewhere.test", TimeSpan.FromDays(30)));
        await using var f = Fixture(trust);
        var reg = Assert.Single(f.Switch.TrunkRegistrations);
        await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the registration to fail");
        Assert.Contains("name mismatch", reg.LastError);
        lock (_received) Assert.Empty(_received);
    }

    [Fact]
    public async Task TlsVerify_false_registers_even_with_a_wrong_host_certificate()
    {
        Serve(SipTlsCertificates.CreateSelfSigned("sip.elsewhere.test", TimeSpan.FromDays(30)));
        await using var f = Fixture("", verify: false);
        var reg = Assert.Single(f.Switch.TrunkRegistrations);
        await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Registered, "the unverified trunk to register");
    }
}
