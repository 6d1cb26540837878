namespace Switchboard.Interface;

/// <summary>Settings of the IP interface (configuration section "IpInterface").</summary>
public sealed class IpInterfaceOptions
{
    /// <summary>The port served as TCP stream (with HTTP) and UDP datagram socket.</summary>
    public int Port { get; set; } = 2503;

    /// <summary>Listen address; "::" listens dual-stack on IPv6 and IPv4.</summary>
    public string ListenAddress { get; set; } = "::";

    /// <summary>Serve the UDP datagram socket too.</summary>
    public bool EnableUdp { get; set; } = true;

    /// <summary>Longest command line in bytes; longer lines get a 400 and are discarded.</summary>
    public int MaxLineLength { get; set; } = 1024;

    /// <summary>Most simultaneous TCP connections; more are told 503 and closed.</summary>
    public int MaxConnections { get; set; } = 1000;

    /// <summary>Most simultaneous TCP connections from one client address; checked at accept, before a slot is taken.</summary>
    public int MaxConnectionsPerClient { get; set; } = 64;

    /// <summary>A TCP connection without traffic (and without Monitor) for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The idle timeout while more than three quarters of <see cref="MaxConnections"/> are open: idle connections
    /// without Monitor make room for new clients sooner.
    /// </summary>
    public TimeSpan IdleTimeoutUnderLoad { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most Monitor subscriptions on one connection (one per device, <c>*</c> once).</summary>
    public int MaxMonitorsPerConnection { get; set; } = 256;

    /// <summary>A started command line must be complete within this time (slow senders hold no slot forever).</summary>
    public TimeSpan LineTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A client that does not take its replies within this time is disconnected.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An HTTP request head must arrive completely within this time (slow-loris protection).</summary>
    public TimeSpan HttpRequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest HTTP request head in bytes.</summary>
    public int MaxHttpHeaderBytes { get; set; } = 8192;

    /// <summary>Most command lines taken from one UDP datagram.</summary>
    public int MaxLinesPerDatagram { get; set; } = 64;
}
