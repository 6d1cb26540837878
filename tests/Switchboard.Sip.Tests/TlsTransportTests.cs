using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Testing;
using Switchboard.Tests.Shared;

namespace Switchboard.Sip.Tests;

/// <summary>SIP over TLS on a real loopback listener: real SslStream clients, plaintext and garbage on the TLS port.</summary>
public sealed class TlsTransportTests : IAsyncLifetime, ISipTransactionUser
{
    private static readonly X509Certificate2 ServerCert = SipTlsCertificates.CreateSelfSigned("127.0.0.1", TimeSpan.FromDays(30));
    private readonly CapturingLogger _log = new();
    private SipTransactionLayer _layer = null!;
    private readonly TaskCompletionSource<SipEndPoint> _optionsFrom = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task InitializeAsync()
    {
        _layer = new SipTransactionLayer(new SipTransport(new SipTransportOptions
        {
            Port = 0,
            TlsPort = 0,
            TlsCertificate = ServerCert,
            MaxTcpConnectionsPerSource = 4,
        }, _log), log: _log);
        _layer.Start(this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _layer.DisposeAsync();

    private IPEndPoint TlsEndPoint => _layer.Transport.TlsLocalEndPoint!;

    Task ISipTransactionUser.OnRequestAsync(ServerTransaction transaction)
    {
        _optionsFrom.TrySetResult(transaction.Source);
        return transaction.RespondAsync(200, toTag: "t1");
    }

    Task ISipTransactionUser.OnAckAsync(SipRequest ack, SipEndPoint source) => Task.CompletedTask;

    Task ISipTransactionUser.OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

    Task ISipTransactionUser.OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;

    private static string Options(int localPort, string callId) =>
        $"OPTIONS sips:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:{localPort};branch=z9hG4bK{callId};rport\r\nFrom: <sips:a@127.0.0.1>;tag=1\r\n" +
        $"To: <sips:x@127.0.0.1>\r\nCall-ID: {callId}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    private async Task<(TcpClient Tcp, SslStream Ssl)> ConnectTlsAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(TlsEndPoint);
        // The test pins the server's certificate, as a phone given the logged fingerprint would.
        var ssl = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => cert is not null && new X509Certificate2(cert).Thumbprint == ServerCert.Thumbprint);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 });
        return (tcp, ssl);
    }

    private static async Task<string> ReadMessageAsync(Stream s)
    {
        var buffer = new byte[8192];
        int filled = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            int n = await s.ReadAsync(buffer.AsMemory(filled), cts.Token);
            if (n == 0) throw new IOException("closed");
            filled += n;
            var text = Encoding.ASCII.GetString(buffer, 0, filled);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal)) return text;
        }
    }

    /// <summary>Reads until the server closes; true when it did (within the wait), false when data came or it stayed open.</summary>
    private static async Task<bool> ClosedByServerAsync(NetworkStream s)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                int n = await s.ReadAsync(buffer, cts.Token);
                if (n == 0) return true;
                if (buffer[0] != 0x15) return false; // only a TLS alert record may come before the close
            }
        }
        catch (IOException)
        {
            return true; // reset
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Options_over_tls_is_answered_on_the_same_connection_and_a_request_to_that_phone_uses_its_flow()
    {
        var (tcp, ssl) = await ConnectTlsAsync();
        using var _ = tcp;
        await using var __ = ssl;
        int localPort = ((IPEndPoint)tcp.Client.LocalEndPoint!).Port;
        await ssl.WriteAsync(Encoding.ASCII.GetBytes(Options(localPort, "tls1")));
        var reply = await ReadMessageAsync(ssl);
        Assert.StartsWith("SIP/2.0 200 ", reply);
        Assert.Contains("Via: SIP/2.0/TLS 127.0.0.1:" + localPort, reply);
        var source = await _optionsFrom.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(SipProtocol.Tls, source.Protocol);

        // A request from the switch to this peer goes over the connection it opened: no new connection to its port.
        var ping = new SipRequest("OPTIONS", "sips:a@127.0.0.1");
        ping.Add(SipHeaderNames.From, "<sips:switch@127.0.0.1>;tag=s1");
        ping.Add(SipHeaderNames.To, "<sips:a@127.0.0.1>");
        ping.Add(SipHeaderNames.CallId, "ping-tls");
        ping.Add(SipHeaderNames.CSeq, "1 OPTIONS");
        ping.Add(SipHeaderNames.MaxForwards, "70");
        _layer.Send(ping, source);
        var request = await ReadMessageAsync(ssl);
        Assert.StartsWith("OPTIONS sips:a@127.0.0.1 SIP/2.0\r\n", request);
        Assert.Contains($"Via: SIP/2.0/TLS 127.0.0.1:{TlsEndPoint.Port};branch=", request);
    }

    [Fact]
    public async Task Plaintext_sip_on_the_tls_port_is_closed_unanswered_and_logged_as_not_tls_and_tls_clients_are_served_on()
    {
        using var plain = new TcpClient();
        await plain.ConnectAsync(TlsEndPoint);
        var stream = plain.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Options(((IPEndPoint)plain.Client.LocalEndPoint!).Port, "plain1")));
        Assert.True(await ClosedByServerAsync(stream), "the TLS port answered plaintext or kept the connection open");
        await Poll.UntilAsync(() => ((SipTransport)_layer.Transport).FailedTlsHandshakes == 1, "the failed handshake to be counted");
        Assert.Contains(_log.Lines, l => l.Id.Id == 5066 && l.Text.Contains("(NotTls)", StringComparison.Ordinal) && l.Text.Contains("0x4f", StringComparison.Ordinal));
        Assert.False(_optionsFrom.Task.IsCompleted);
        await Poll.UntilAsync(() => ((SipTransport)_layer.Transport).AcceptedTcpConnections == 0, "the connection slot to be released");

        var (tcp, ssl) = await ConnectTlsAsync();
        using var _ = tcp;
        await using var __ = ssl;
        await ssl.WriteAsync(Encoding.ASCII.GetBytes(Options(((IPEndPoint)tcp.Client.LocalEndPoint!).Port, "after-plain")));
        Assert.StartsWith("SIP/2.0 200 ", await ReadMessageAsync(ssl));
    }

    [Fact]
    public async Task A_handshake_record_of_garbage_is_closed_and_logged_as_a_bad_handshake()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(TlsEndPoint);
        var stream = client.GetStream();
        // A TLS record header (handshake, TLS 1.0 record version, length 64) followed by bytes that are no ClientHello.
        var garbage = new byte[69];
        garbage[0] = 22; garbage[1] = 3; garbage[2] = 1; garbage[3] = 0; garbage[4] = 64;
        new Random(16).NextBytes(garbage.AsSpan(5));
        garbage[5] = 1; // message type ClientHello, with a nonsense length and body
        await stream.WriteAsync(garbage);
        Assert.True(await ClosedByServerAsync(stream), "garbage kept the connection open");
        await Poll.UntilAsync(() => ((SipTransport)_layer.Transport).FailedTlsHandshakes == 1, "the failed handshake to be counted");
        Assert.Contains(_log.Lines, l => l.Id.Id == 5066 && l.Text.Contains("(BadHandshake)", StringComparison.Ordinal));
        await Poll.UntilAsync(() => ((SipTransport)_layer.Transport).AcceptedTcpConnections == 0, "the connection slot to be released");
    }

    [Fact]
    public async Task Tls_connections_count_against_the_per_source_limit_and_the_one_over_is_refused()
    {
        var open = new List<(TcpClient, SslStream)>();
        try
        {
            for (int i = 0; i < 4; i++) open.Add(await ConnectTlsAsync());
            await Poll.UntilAsync(() => ((SipTransport)_layer.Transport).AcceptedTcpConnections == 4, "four TLS connections");
            using var fifth = new TcpClient();
            bool refused;
            try
            {
                await fifth.ConnectAsync(TlsEndPoint);
                refused = await ClosedByServerAsync(fifth.GetStream());
            }
            catch (SocketException)
            {
                refused = true; // the refusal's reset can beat the client's own view of the connect
            }
            Assert.True(refused);
            await Poll.UntilAsync(() => _log.Lines.Any(l => l.Id.Id == 5063), "the refusal to be logged");
        }
        finally
        {
            foreach (var (t, s) in open)
            {
                await s.DisposeAsync();
                t.Dispose();
            }
        }
    }
}

/// <summary>
/// TLS connections this side opens (to a trunk): a local TLS server with a good, an expired, a wrong-host and an
/// untrusted certificate; only the good one carries the message, each refusal is logged with its reason.
/// </summary>
public sealed class TlsClientVerificationTests : IAsyncDisposable
{
    private const string Host = "sip.provider.test";
    private readonly CapturingLogger _log = new();
    private readonly SipTransport _transport;
    private readonly TcpListener _server = new(IPAddress.Loopback, 0);

    public TlsClientVerificationTests()
    {
        _transport = new SipTransport(new SipTransportOptions { Port = 0 }, _log);
        _transport.Start((_, _) => Task.CompletedTask);
        _server.Start();
    }

    public async ValueTask DisposeAsync()
    {
        _server.Stop();
        await _transport.DisposeAsync();
    }

    private IPEndPoint ServerEndPoint => (IPEndPoint)_server.LocalEndpoint;

    /// <summary>Accepts one connection with <paramref name="cert"/> and returns what arrived in the TLS session (empty when the handshake failed).</summary>
    private async Task<string> ServeOnceAsync(X509Certificate2 cert)
    {
        using var client = await _server.AcceptTcpClientAsync();
        await using var ssl = new SslStream(client.GetStream());
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert }).WaitAsync(TimeSpan.FromSeconds(10));
            var buffer = new byte[4096];
            int n = await ssl.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            return Encoding.ASCII.GetString(buffer, 0, n);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return "";
        }
    }

    private static SipRequest Message()
    {
        var r = new SipRequest("OPTIONS", "sip:" + Host);
        r.Add(SipHeaderNames.Via, "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKv1");
        r.Add(SipHeaderNames.From, "<sip:sb@127.0.0.1>;tag=1");
        r.Add(SipHeaderNames.To, "<sip:" + Host + ">");
        r.Add(SipHeaderNames.CallId, "verify");
        r.Add(SipHeaderNames.CSeq, "1 OPTIONS");
        return r;
    }

    private async Task<(bool Sent, string Received, string? Error)> TryAsync(X509Certificate2 serverCert, SipTlsPeer policy)
    {
        var to = new SipEndPoint(SipProtocol.Tls, ServerEndPoint);
        _transport.SetTlsPeer(ServerEndPoint, policy);
        var served = ServeOnceAsync(serverCert);
        string? error = null;
        try
        {
            await _transport.SendAsync(Message(), to);
        }
        catch (SipTransportException ex)
        {
            error = ex.Message;
        }
        return (error is null, await served, error);
    }

    [Fact]
    public async Task A_certificate_for_the_host_from_the_trust_file_is_accepted_and_carries_the_message()
    {
        using var cert = SipTlsCertificates.CreateSelfSigned(Host, TimeSpan.FromDays(30));
        var (sent, received, error) = await TryAsync(cert, new SipTlsPeer(Host, Trust: [X509CertificateLoader.LoadCertificate(cert.RawData)]));
        Assert.True(sent, error);
        Assert.StartsWith("OPTIONS sip:" + Host + " SIP/2.0\r\n", received);
    }

    [Fact]
    public async Task An_expired_certificate_is_refused_before_any_sip_is_sent_and_logged()
    {
        using var cert = SipTlsCertificates.CreateSelfSigned(Host, TimeSpan.FromDays(365), DateTimeOffset.UtcNow.AddDays(-400));
        var (sent, received, error) = await TryAsync(cert, new SipTlsPeer(Host, Trust: [X509CertificateLoader.LoadCertificate(cert.RawData)]));
        Assert.False(sent);
        Assert.Equal("", received);
        Assert.Contains("NotTimeValid", error);
        Assert.Contains(_log.Lines, l => l.Id.Id == 5067 && l.Level == LogLevel.Warning && l.Text.Contains("NotTimeValid", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_certificate_for_another_host_is_refused_as_a_name_mismatch_even_when_trusted()
    {
        using var cert = SipTlsCertificates.CreateSelfSigned("other.provider.test", TimeSpan.FromDays(30));
        var (sent, received, error) = await TryAsync(cert, new SipTlsPeer(Host, Trust: [X509CertificateLoader.LoadCertificate(cert.RawData)]));
        Assert.False(sent);
        Assert.Equal("", received);
        Assert.Contains("name mismatch", error);
        Assert.Contains(_log.Lines, l => l.Id.Id == 5067 && l.Text.Contains(Host, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_self_signed_certificate_without_a_trust_file_is_refused_by_the_system_store()
    {
        using var cert = SipTlsCertificates.CreateSelfSigned(Host, TimeSpan.FromDays(30));
        var (sent, _, error) = await TryAsync(cert, new SipTlsPeer(Host));
        Assert.False(sent);
        Assert.Contains("system store", error);
    }

    [Fact]
    public async Task Verification_off_accepts_any_certificate_and_says_so_in_the_log()
    {
        using var cert = SipTlsCertificates.CreateSelfSigned("whoever.test", TimeSpan.FromDays(1), DateTimeOffset.UtcNow.AddDays(-10));
        var (sent, received, error) = await TryAsync(cert, new SipTlsPeer(Host, Verify: false));
        Assert.True(sent, error);
        Assert.StartsWith("OPTIONS ", received);
        Assert.Contains(_log.Lines, l => l.Id.Id == 5068);
    }
}

/// <summary>The listener's own certificate: generated once, stored with a private key only the owner can read, and reused.</summary>
public sealed class TlsCertificateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-tlscert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_generated_certificate_is_stored_0600_its_fingerprint_logged_and_the_same_one_loaded_at_the_next_start()
    {
        var log = new CapturingLogger();
        using var first = SipTlsCertificates.LoadOrCreate(null, null, _dir, "pbx.example.test", log);
        var key = Path.Combine(_dir, SipTlsCertificates.GeneratedKeyFile);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.True(first.HasPrivateKey);
        var fingerprint = SipTlsCertificates.Fingerprint(first);
        Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fingerprint);
        Assert.Contains(log.Lines, l => l.Id.Id == 5069 && l.Text.Contains(fingerprint, StringComparison.Ordinal) && l.Text.Contains("generated", StringComparison.Ordinal));

        using var second = SipTlsCertificates.LoadOrCreate(null, null, _dir, "pbx.example.test", log);
        Assert.Equal(fingerprint, SipTlsCertificates.Fingerprint(second));
        Assert.True(second.HasPrivateKey);
    }
}
