namespace Switchboard.Switch;

/// <summary>Settings of the built-in SIP switch (configuration section "Sip").</summary>
public sealed class SwitchOptions
{
    /// <summary>Address the SIP transport listens on.</summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>
    /// The server's public IP address when it sits behind NAT: written into Via, Contact and SDP towards peers outside
    /// <see cref="LocalNetworks"/> (all non-loopback peers when that is empty). Empty: each peer gets the address of the
    /// interface that routes to it (or the listen address when that is not a wildcard).
    /// </summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>
    /// CIDR networks ("192.168.1.0/24") whose peers get the local address even when <see cref="AdvertisedAddress"/> is
    /// set; also the networks inside which two phones may send media to each other directly.
    /// </summary>
    public List<string> LocalNetworks { get; set; } = [];

    /// <summary>Where the media of calls dialled on phones runs: auto (the switch decides per call), always (the switch's media engine), never (phone to phone).</summary>
    public MediaAnchorMode MediaAnchor { get; set; } = MediaAnchorMode.Auto;

    /// <summary>How often each registered phone is pinged with OPTIONS (keeps NAT bindings open, notices dead phones); zero turns pinging off.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Unanswered pings in a row after which a phone is shown unreachable.</summary>
    public int KeepAliveFailures { get; set; } = 3;

    /// <summary>
    /// Most SIP TCP connections accepted from one source address. An office behind one NAT address has a connection
    /// per TCP phone, so this is well above a handful, yet far below the total (<see cref="MaxTcpConnections"/>).
    /// </summary>
    public int MaxTcpConnectionsPerSource { get; set; } = 128;

    /// <summary>Most SIP TCP connections at once, accepted and opened.</summary>
    public int MaxTcpConnections { get; set; } = 2048;

    /// <summary>SIP port for UDP and TCP.</summary>
    public int Port { get; set; } = 5060;

    /// <summary>
    /// SIP port for TLS (RFC 3261 §26); unset: <see cref="Port"/> + 1 (5061 for 5060), or a port the system picks when
    /// <see cref="Port"/> is 0; -1 turns the TLS listener off.
    /// </summary>
    public int? TlsPort { get; set; }

    /// <summary>
    /// SRTP (SDES keys) on the switch's media endpoints for devices not in <see cref="DeviceSrtp"/>: off, optional
    /// (keyed when the phone is on TLS and takes it) or required. Keys only ever go to peers reached over TLS.
    /// </summary>
    public SrtpPolicy Srtp { get; set; } = SrtpPolicy.Optional;

    /// <summary>SRTP policy per device (extension → off, optional, required).</summary>
    public Dictionary<string, SrtpPolicy> DeviceSrtp { get; set; } = [];

    /// <summary>The TLS listener's certificate (section "Sip:Tls").</summary>
    public SipTlsOptions Tls { get; set; } = new();

    /// <summary>The digest realm and SIP domain.</summary>
    public string Realm { get; set; } = "switchboard";

    /// <summary>The extensions (devices).</summary>
    public List<string> Devices { get; set; } = ["100", "101", "102", "103", "104", "105"];

    /// <summary>Fixed passwords per device (else a random one is generated on first start and stored).</summary>
    public Dictionary<string, string> Passwords { get; set; } = [];

    /// <summary>Digest algorithms offered, preferred first ("SHA-256", "MD5").</summary>
    public List<string> DigestAlgorithms { get; set; } = ["MD5"];

    /// <summary>How long a called phone rings before the caller gets 480 (no answer).</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Registration expiry bounds (seconds).</summary>
    public int MinExpires { get; set; } = 60;

    /// <summary>Longest registration accepted (seconds).</summary>
    public int MaxExpires { get; set; } = 3600;

    /// <summary>Wrong passwords of one user from one address before that pair is blocked (10 s, doubling up to 15 min).</summary>
    public int AuthFreeFailures { get; set; } = 5;

    /// <summary>Wrong passwords per user per minute from all addresses together; above it only addresses where the user logged in lately may try.</summary>
    public int AuthMaxFailuresPerUserPerMinute { get; set; } = 20;

    /// <summary>Requests needing authentication one address may send per second, sustained (0 = no limit).</summary>
    public double AuthRequestsPerSecond { get; set; } = 10;

    /// <summary>Requests needing authentication one address may send at once.</summary>
    public int AuthRequestBurst { get; set; } = 50;

    /// <summary>How long a digest nonce is accepted before the phone is challenged again with stale=true.</summary>
    public TimeSpan NonceLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Offer qop=auth-int (the body is covered by the digest) besides qop=auth.</summary>
    public bool DigestAuthInt { get; set; }

    /// <summary>
    /// How Answer makes a device's phone go off-hook (device → Talk, AutoAnswer or None). Devices not listed use what
    /// their phone announced (Allow-Events: talk), else None (Answer replies 501).
    /// </summary>
    public Dictionary<string, AnswerMethod> AnswerMethods { get; set; } = [];

    /// <summary>
    /// Address the RTP sockets of media anchored in the switch bind to, and the address its SDP names; empty: the
    /// wildcard, with each phone's SDP naming the address that serves that phone.
    /// </summary>
    public string RtpAddress { get; set; } = "";

    /// <summary>Lowest RTP port for media anchored in the switch (0 with <see cref="RtpPortMax"/> 0: the system picks).</summary>
    public int RtpPortMin { get; set; }

    /// <summary>Highest RTP port for media anchored in the switch.</summary>
    public int RtpPortMax { get; set; }

    /// <summary>
    /// Codecs the switch's own SDP offers for anchored media, most preferred first (<c>Media:Codecs</c>: opus, g722,
    /// pcmu, pcma); an answer of the switch takes the first of the phone's formats that is in this list.
    /// </summary>
    public List<string> Codecs { get; set; } = ["opus", "g722", "pcmu", "pcma"];

    /// <summary>SIP trunks for outside calls (none: outside numbers get 404).</summary>
    public List<Trunks.TrunkOptions> Trunks { get; set; } = [];

    /// <summary>Digits phones dial before an outside number written without '+' (e.g. "0"); empty: none.</summary>
    public string OutsideLinePrefix { get; set; } = "";

    /// <summary>RFC 3261 T1 in milliseconds (tests shorten it).</summary>
    public int T1Milliseconds { get; set; } = 500;
}

/// <summary>Whether media of the switch's endpoints towards a phone or trunk is SRTP (RFC 3711 with SDES keys, RFC 4568).</summary>
public enum SrtpPolicy
{
    /// <summary>Never: no key is offered, and offered keys are declined.</summary>
    Off,
    /// <summary>Keyed when the peer is reached over TLS and takes it (offered in RTP/AVP, best effort); plain otherwise.</summary>
    Optional,
    /// <summary>Offered in RTP/SAVP; an answer without a key ends the call. Needs TLS signalling to the peer.</summary>
    Required,
}

/// <summary>The certificate of the SIP TLS listener (configuration section "Sip:Tls").</summary>
public sealed class SipTlsOptions
{
    /// <summary>PEM file of the server certificate (with its chain); empty: a self-signed one is generated on first start.</summary>
    public string Certificate { get; set; } = "";

    /// <summary>PEM file of the certificate's private key; empty: the key is in <see cref="Certificate"/>.</summary>
    public string Key { get; set; } = "";

    /// <summary>Where the generated certificate and key are kept (the host sets the state directory); empty: in memory only.</summary>
    public string Directory { get; set; } = "";
}

/// <summary>Where the media of a call dialled on a phone runs (<see cref="SwitchOptions.MediaAnchor"/>).</summary>
public enum MediaAnchorMode
{
    /// <summary>Phone to phone when both phones are directly reachable (same local network, no NAT), else in the switch.</summary>
    Auto,
    /// <summary>Always in the switch's media engine.</summary>
    Always,
    /// <summary>Always phone to phone (SDP passes through).</summary>
    Never,
}
