namespace Switchboard.Media.Rtp;

/// <summary>Comparison of 16-bit RTP sequence numbers across the 65535 → 0 wrap (serial number arithmetic).</summary>
public static class RtpSequence
{
    /// <summary>Signed distance from <paramref name="from"/> to <paramref name="to"/>, in −32768..32767.</summary>
    public static int Distance(ushort from, ushort to) => (short)(ushort)(to - from);

    /// <summary>Whether <paramref name="candidate"/> comes after <paramref name="reference"/>.</summary>
    public static bool IsNewer(ushort candidate, ushort reference) => Distance(reference, candidate) > 0;
}
