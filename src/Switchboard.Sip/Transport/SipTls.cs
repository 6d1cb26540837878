using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Switchboard.Sip.Transport;

/// <summary>Why an accepted TLS connection was closed before it carried SIP.</summary>
public enum TlsRejection
{
    /// <summary>The first byte was no TLS handshake record: plaintext SIP, HTTP or a scanner on the TLS port.</summary>
    NotTls,
    /// <summary>A handshake record came, but the handshake failed (garbage, no common version or cipher).</summary>
    BadHandshake,
    /// <summary>The handshake did not complete within <see cref="SipTransportOptions.TlsHandshakeTimeout"/>.</summary>
    HandshakeTimeout,
    /// <summary>The peer closed the connection before a handshake.</summary>
    Closed,
}

/// <summary>
/// How a TLS connection this side opens checks the server (RFC 5922 §7.2): the name the certificate must carry, and
/// the roots it must chain to — the system store, or the certificates of a trust file (a provider's own CA or its
/// self-signed certificate). <see cref="Verify"/> false accepts any certificate: encrypted, not authenticated.
/// </summary>
public sealed record SipTlsPeer(string TargetHost, bool Verify = true, X509Certificate2Collection? Trust = null);

/// <summary>The server certificate of the TLS listener, and the check of a TLS server's certificate.</summary>
public static class SipTlsCertificates
{
    /// <summary>File name of the generated certificate in the state directory.</summary>
    public const string GeneratedCertificateFile = "sip-tls.crt";

    /// <summary>File name of the generated private key in the state directory (mode 0600).</summary>
    public const string GeneratedKeyFile = "sip-tls.key";

    /// <summary>
    /// The listener's certificate: from PEM files when <paramref name="certificatePath"/> is given, else the certificate
    /// generated on an earlier start in <paramref name="stateDirectory"/>, else a new self-signed one stored there
    /// (in memory only when no directory is given). Its SHA-256 fingerprint is logged so a phone user can compare it.
    /// </summary>
    public static X509Certificate2 LoadOrCreate(string? certificatePath, string? keyPath, string? stateDirectory, string hostName, ILogger log)
    {
        X509Certificate2 cert;
        string source;
        if (!string.IsNullOrEmpty(certificatePath))
        {
            cert = LoadPem(certificatePath, string.IsNullOrEmpty(keyPath) ? null : keyPath);
            source = certificatePath;
        }
        else if (!string.IsNullOrEmpty(stateDirectory))
        {
            var certFile = Path.Combine(stateDirectory, GeneratedCertificateFile);
            var keyFile = Path.Combine(stateDirectory, GeneratedKeyFile);
            if (File.Exists(certFile) && File.Exists(keyFile))
            {
                cert = LoadPem(certFile, keyFile);
                source = certFile;
            }
            else
            {
                cert = CreateSelfSigned(hostName, TimeSpan.FromDays(3650));
                Directory.CreateDirectory(stateDirectory);
                WritePrivate(keyFile, cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
                WritePrivate(certFile, cert.ExportCertificatePem());
                source = certFile + " (generated now, self-signed)";
            }
        }
        else
        {
            cert = CreateSelfSigned(hostName, TimeSpan.FromDays(3650));
            source = "memory (generated now, self-signed, not stored)";
        }
        if (cert.NotAfter < DateTime.Now) TransportLog.TlsCertificateExpired(log, source, cert.NotAfter.ToUniversalTime());
        TransportLog.TlsCertificate(log, cert.Subject, source, cert.NotAfter.ToUniversalTime(), Fingerprint(cert));
        return cert;
    }

    /// <summary>A certificate and its key from PEM files (the key may be in the certificate file).</summary>
    public static X509Certificate2 LoadPem(string certificatePath, string? keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // An ephemeral PEM key cannot be used by every TLS backend; a PKCS#12 round trip gives a persisted one.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A self-signed ECDSA P-256 server certificate for <paramref name="hostName"/> (and the IP address when it is one).</summary>
    public static X509Certificate2 CreateSelfSigned(string hostName, TimeSpan lifetime, DateTimeOffset? notBefore = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + hostName, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (IPAddress.TryParse(hostName, out var ip)) san.AddIpAddress(ip);
        else san.AddDnsName(hostName);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        using var cert = req.CreateSelfSigned(from, from + lifetime);
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The SHA-256 fingerprint as RFC 4572 writes it (upper-case hex pairs joined by ':').</summary>
    public static string Fingerprint(X509Certificate2 cert) =>
        string.Join(':', Convert.ToHexString(cert.GetCertHash(HashAlgorithmName.SHA256)).Chunk(2).Select(c => new string(c)));

    /// <summary>
    /// Checks a TLS server's certificate against <paramref name="peer"/>; null when accepted, else why not.
    /// With a trust file the chain is built against only those certificates; the name is checked either way.
    /// </summary>
    public static string? Verify(SipTlsPeer peer, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (!peer.Verify) return null;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return "no certificate";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return $"certificate is not for {peer.TargetHost} (name mismatch)";
        if (peer.Trust is null)
            return errors == SslPolicyErrors.None ? null : "certificate chain does not verify against the system store (" + ChainStatus(certificate, null) + ")";
        return ChainStatus(certificate, peer.Trust) is var status && status.Length == 0 ? null : "certificate does not verify against the trust file (" + status + ")";
    }

    private static string ChainStatus(X509Certificate certificate, X509Certificate2Collection? trust)
    {
        using var cert = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (trust is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trust);
        }
        if (chain.Build(cert)) return "";
        return string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
    }

    private static void WritePrivate(string path, string text)
    {
        // Created 0600 before any byte is written, so the key is never readable by others, not even for a moment.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var f = new FileStream(path, options);
        using var w = new StreamWriter(f);
        w.Write(text);
    }
}
