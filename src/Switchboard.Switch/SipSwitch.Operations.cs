using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Security;
using Switchboard.Telephony;

namespace Switchboard.Switch;

/// <summary>What an administrator sees of the switch: registrations, credentials, the SIP trace and counters for metrics.</summary>
public sealed partial class SipSwitch
{
    /// <summary>The extensions' credentials (ctl passwords, pending passwords shown at start).</summary>
    public DeviceSecrets Secrets => _secrets;

    /// <summary>Every phone binding now (expired ones are dropped by the expiry timer).</summary>
    public IReadOnlyList<PhoneBinding> Registrations => _bindings.All();

    /// <summary>The transaction layer (transaction and retransmission counts).</summary>
    public SipTransactionLayer TransactionLayer => _layer;

    /// <summary>The per-device SIP message trace.</summary>
    public SipMessageTrace MessageTrace => _layer.Transport.Trace;

    /// <summary>Mixer ticks that came late (0 before the media engine is first used).</summary>
    public long MixerOverruns
    {
        get
        {
            lock (_mediaGate) return _media?.Overruns ?? 0;
        }
    }

    /// <summary>RTP counters of the media anchored in the switch (null before the media engine is first used).</summary>
    public Media.RtpStatistics? RtpStatistics
    {
        get
        {
            lock (_mediaGate) return _media?.RtpStatistics();
        }
    }
}
