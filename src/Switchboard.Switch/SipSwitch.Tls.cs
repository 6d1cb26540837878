using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Trunks;

namespace Switchboard.Switch;

/// <summary>SIP over TLS: the listener's port and certificate, Contact transport parameters, and the check of a TLS trunk.</summary>
public sealed partial class SipSwitch
{
    /// <summary>The bound SIP TLS endpoint, or null when TLS is off.</summary>
    public IPEndPoint? TlsEndPoint => _layer.Transport.TlsLocalEndPoint;

    /// <summary>
    /// The TLS port the transport binds: the one configured, else the port after the UDP/TCP port (5061 for 5060, the
    /// RFC 3261 pair) or any port when that is any; -1 for none.
    /// </summary>
    internal static int EffectiveTlsPort(SwitchOptions options) => options.TlsPort ?? (options.Port is 0 or 65535 ? 0 : options.Port + 1);

    private static X509Certificate2 TlsCertificateFor(SwitchOptions options, IPAddress listen, IPAddress? advertised, ILogger log)
    {
        // The name a generated certificate carries: what phones are told to reach (the advertised address), else the
        // listen address, else this host's name. Phones that verify it need its fingerprint or the file anyway.
        var name = advertised?.ToString()
            ?? (listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : listen.ToString());
        try
        {
            return SipTlsCertificates.LoadOrCreate(options.Tls.Certificate, options.Tls.Key, options.Tls.Directory, name, log);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"Sip:Tls: cannot load or create the TLS certificate ({ex.Message})", nameof(options), ex);
        }
    }

    /// <summary>host:port of this switch in a Contact towards <paramref name="peer"/>: the TLS port for a TLS peer.</summary>
    private string ContactHostPort(SipEndPoint peer) => $"{HostFor(peer)}:{_layer.Transport.PortFor(peer.Protocol)}";

    /// <summary>The URI transport parameter for a stream transport (RFC 3261 §19.1.1); UDP is the default and goes without.</summary>
    internal static string TransportParameter(SipProtocol protocol) => protocol switch
    {
        SipProtocol.Tcp => ";transport=tcp",
        SipProtocol.Tls => ";transport=tls",
        _ => "",
    };

    /// <summary>How the certificate of a TLS trunk is checked: its Host name, against the trust file or the system store.</summary>
    internal static SipTlsPeer TlsPeerOf(TrunkOptions trunk)
    {
        X509Certificate2Collection? trust = null;
        if (trunk.TrustFile.Length > 0)
        {
            trust = [];
            try
            {
                trust.ImportFromPemFile(trunk.TrustFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new InvalidOperationException($"Trunk '{trunk.Name}': TrustFile {trunk.TrustFile} cannot be read ({ex.Message})", ex);
            }
            if (trust.Count == 0) throw new InvalidOperationException($"Trunk '{trunk.Name}': TrustFile {trunk.TrustFile} holds no PEM certificate");
        }
        return new SipTlsPeer(trunk.Host, trunk.TlsVerify, trust);
    }
}
