using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Switchboard.Media.Srtp;

/// <summary>The SRTP crypto suites of RFC 4568 §6.2 this engine speaks: AES-128 counter mode with HMAC-SHA1.</summary>
public enum SrtpSuite
{
    /// <summary>AES_CM_128_HMAC_SHA1_80: 80-bit tags on SRTP and SRTCP.</summary>
    AesCm128HmacSha1_80,
    /// <summary>AES_CM_128_HMAC_SHA1_32: 32-bit tags on SRTP, 80-bit on SRTCP (RFC 4568 §6.2.2).</summary>
    AesCm128HmacSha1_32,
}

/// <summary>Why an SRTP or SRTCP packet was not accepted.</summary>
public enum SrtpRejection
{
    /// <summary>Accepted.</summary>
    None,
    /// <summary>Shorter than its header, its CSRC list, its extension and its tag.</summary>
    TooShort,
    /// <summary>The authentication tag does not match: not from the holder of the key, or altered on the way.</summary>
    BadAuthTag,
    /// <summary>An index already received, or older than the replay window (RFC 3711 §3.3.2).</summary>
    Replayed,
    /// <summary>A new SSRC beyond the number of streams one context tracks.</summary>
    TooManySources,
}

/// <summary>Names and sizes of the suites.</summary>
public static class SrtpSuites
{
    /// <summary>Master key length in bytes (128 bits).</summary>
    public const int MasterKeyLength = 16;

    /// <summary>Master salt length in bytes (112 bits).</summary>
    public const int MasterSaltLength = 14;

    /// <summary>The SRTP authentication tag length of a suite in bytes.</summary>
    public static int TagLength(this SrtpSuite suite) => suite == SrtpSuite.AesCm128HmacSha1_32 ? 4 : 10;

    /// <summary>The suite's name in an SDP crypto attribute.</summary>
    public static string Name(this SrtpSuite suite) => suite == SrtpSuite.AesCm128HmacSha1_32 ? "AES_CM_128_HMAC_SHA1_32" : "AES_CM_128_HMAC_SHA1_80";

    /// <summary>The suite of an SDP crypto-suite name (case as RFC 4568 writes it).</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out SrtpSuite suite)
    {
        suite = default;
        if (name.SequenceEqual("AES_CM_128_HMAC_SHA1_80")) return true;
        if (!name.SequenceEqual("AES_CM_128_HMAC_SHA1_32")) return false;
        suite = SrtpSuite.AesCm128HmacSha1_32;
        return true;
    }
}

/// <summary>
/// One direction of SRTP and SRTCP (RFC 3711) under one master key: session keys derived once (key derivation rate
/// 0, labels 0–5), AES-CM keystream from AES-ECB over counter blocks, HMAC-SHA1 tags, the rollover counter estimated
/// from sequence numbers (Appendix A) and a 64-packet replay window per SSRC. A context protects (sends) or unprotects
/// (receives); the two directions of a call have separate master keys and so separate contexts. Not thread-safe:
/// each direction is used by one loop.
/// </summary>
public sealed class SrtpContext : IDisposable
{
    /// <summary>Streams (SSRCs) one receiving context keeps state for; a phone uses one, a transfer may add one.</summary>
    public const int MaxSources = 8;

    /// <summary>The replay window of RFC 3711 §3.3.2 (the minimum it allows is 64).</summary>
    public const int ReplayWindow = 64;

    private const int SrtcpTagLength = 10;
    private const int SrtcpIndexLength = 4;

    private readonly SrtpSuite _suite;
    private readonly Aes _rtpCipher;
    private readonly Aes _rtcpCipher;
    private readonly KeyStream _rtpStream;
    private readonly KeyStream _rtcpStream;
    private readonly IncrementalHash _rtpAuth;
    private readonly IncrementalHash _rtcpAuth;
    private readonly byte[] _rtpSalt;
    private readonly byte[] _rtcpSalt;
    private readonly Dictionary<uint, StreamState> _streams = [];
    private readonly Dictionary<uint, ReplayState> _rtcpStreams = [];
    private uint _rtcpSendIndex;

    /// <summary>Derives the session keys of <paramref name="masterKey"/> (16 bytes) and <paramref name="masterSalt"/> (14 bytes).</summary>
    public SrtpContext(SrtpSuite suite, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
    {
        if (masterKey.Length != SrtpSuites.MasterKeyLength) throw new ArgumentException("the master key is 16 bytes", nameof(masterKey));
        if (masterSalt.Length != SrtpSuites.MasterSaltLength) throw new ArgumentException("the master salt is 14 bytes", nameof(masterSalt));
        _suite = suite;
        using var master = Aes.Create();
        master.Key = masterKey.ToArray();
        SessionKey = Derive(master, masterSalt, 0, 16);
        SessionAuthKey = Derive(master, masterSalt, 1, 20);
        _rtpSalt = Derive(master, masterSalt, 2, 14);
        _rtpCipher = Aes.Create();
        _rtpCipher.Key = SessionKey;
        _rtpCipher.Mode = CipherMode.ECB;
        _rtpCipher.Padding = PaddingMode.None;
        _rtpAuth = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, SessionAuthKey);
        _rtcpCipher = Aes.Create();
        _rtcpCipher.Key = Derive(master, masterSalt, 3, 16);
        _rtcpCipher.Mode = CipherMode.ECB;
        _rtcpCipher.Padding = PaddingMode.None;
        _rtcpAuth = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, Derive(master, masterSalt, 4, 20));
        _rtcpSalt = Derive(master, masterSalt, 5, 14);
        _rtpStream = new KeyStream(_rtpCipher);
        _rtcpStream = new KeyStream(_rtcpCipher);
    }

    /// <summary>The suite.</summary>
    public SrtpSuite Suite => _suite;

    /// <summary>Bytes the protection adds to an RTP packet (the tag; no MKI is used).</summary>
    public int RtpOverhead => _suite.TagLength();

    /// <summary>Bytes the protection adds to an RTCP packet (E flag and index, 80-bit tag).</summary>
    public static int RtcpOverhead => SrtcpIndexLength + SrtcpTagLength;

    /// <summary>The SRTP session encryption key (label 0), for the RFC 3711 B.3 check.</summary>
    internal byte[] SessionKey { get; }

    /// <summary>The SRTP session authentication key (label 1).</summary>
    internal byte[] SessionAuthKey { get; }

    /// <summary>The SRTP session salt (label 2).</summary>
    internal ReadOnlySpan<byte> SessionSalt => _rtpSalt;

    /// <summary>
    /// Encrypts an RTP packet in place and appends its tag: <paramref name="packet"/> holds the plain packet in its
    /// first <paramref name="length"/> bytes and has room for <see cref="RtpOverhead"/> more. Returns the new length,
    /// or -1 when the packet is no RTP packet (then nothing may be sent).
    /// </summary>
    public int ProtectRtp(Span<byte> packet, int length)
    {
        int header = RtpHeaderLength(packet[..length]);
        if (header < 0 || packet.Length < length + RtpOverhead) return -1;
        uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        ushort seq = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (!_streams.TryGetValue(ssrc, out var s))
        {
            if (_streams.Count >= MaxSources) _streams.Clear(); // sending: only our own SSRCs, a new one per re-key at most
            _streams[ssrc] = s = new StreamState { HighestSeq = seq };
        }
        uint roc = s.EstimateRoc(seq);
        s.Advance(roc, seq);
        ulong index = ((ulong)roc << 16) | seq;
        Transform(_rtpStream, _rtpSalt, ssrc, index, packet[header..length]);
        Tag(_rtpAuth, packet[..length], roc, packet.Slice(length, RtpOverhead));
        return length + RtpOverhead;
    }

    /// <summary>
    /// Checks and decrypts an SRTP packet in place; on success <paramref name="plainLength"/> is the RTP packet's
    /// length (the tag removed). A rejected packet leaves the stream's state (ROC, replay window) unchanged.
    /// </summary>
    public SrtpRejection UnprotectRtp(Span<byte> packet, out int plainLength)
    {
        plainLength = 0;
        int tagLength = RtpOverhead;
        if (packet.Length < 12 + tagLength) return SrtpRejection.TooShort;
        var authenticated = packet[..^tagLength];
        int header = RtpHeaderLength(authenticated);
        if (header < 0) return SrtpRejection.TooShort;
        uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        ushort seq = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        bool known = _streams.TryGetValue(ssrc, out var s);
        if (!known && _streams.Count >= MaxSources) return SrtpRejection.TooManySources;
        s ??= new StreamState { HighestSeq = seq };
        uint roc = s.EstimateRoc(seq);
        ulong index = ((ulong)roc << 16) | seq;
        if (known && !s.Replay.Check(index)) return SrtpRejection.Replayed;
        Span<byte> expected = stackalloc byte[10];
        Tag(_rtpAuth, authenticated, roc, expected[..tagLength]);
        if (!CryptographicOperations.FixedTimeEquals(expected[..tagLength], packet[^tagLength..])) return SrtpRejection.BadAuthTag;
        // Only an authentic packet moves the state: forged packets must not push the window or the ROC.
        if (!known) _streams[ssrc] = s;
        s.Advance(roc, seq);
        s.Replay.Accept(index);
        Transform(_rtpStream, _rtpSalt, ssrc, index, authenticated[header..]);
        plainLength = authenticated.Length;
        return SrtpRejection.None;
    }

    /// <summary>
    /// Encrypts an RTCP compound packet in place (RFC 3711 §3.4: all after the first 8 bytes), appends E flag, SRTCP
    /// index and tag. Returns the new length, or -1 when it is no RTCP packet or there is no room.
    /// </summary>
    public int ProtectRtcp(Span<byte> packet, int length)
    {
        if (length < 8 || packet.Length < length + RtcpOverhead) return -1;
        uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        uint index = _rtcpSendIndex++ & 0x7FFF_FFFF;
        Transform(_rtcpStream, _rtcpSalt, ssrc, index, packet[8..length]);
        BinaryPrimitives.WriteUInt32BigEndian(packet[length..], 0x8000_0000u | index);
        int authLength = length + SrtcpIndexLength;
        _rtcpAuth.AppendData(packet[..authLength]);
        Span<byte> mac = stackalloc byte[20];
        _rtcpAuth.GetHashAndReset(mac);
        mac[..SrtcpTagLength].CopyTo(packet[authLength..]);
        return authLength + SrtcpTagLength;
    }

    /// <summary>Checks and decrypts an SRTCP packet in place; <paramref name="plainLength"/> is the RTCP compound packet's length.</summary>
    public SrtpRejection UnprotectRtcp(Span<byte> packet, out int plainLength)
    {
        plainLength = 0;
        if (packet.Length < 8 + RtcpOverhead) return SrtpRejection.TooShort;
        int authLength = packet.Length - SrtcpTagLength;
        uint word = BinaryPrimitives.ReadUInt32BigEndian(packet[(authLength - SrtcpIndexLength)..]);
        bool encrypted = (word & 0x8000_0000u) != 0;
        uint index = word & 0x7FFF_FFFF;
        uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        bool known = _rtcpStreams.TryGetValue(ssrc, out var replay);
        if (!known && _rtcpStreams.Count >= MaxSources) return SrtpRejection.TooManySources;
        replay ??= new ReplayState();
        if (known && !replay.Check(index)) return SrtpRejection.Replayed;
        _rtcpAuth.AppendData(packet[..authLength]);
        Span<byte> mac = stackalloc byte[20];
        _rtcpAuth.GetHashAndReset(mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..SrtcpTagLength], packet[authLength..])) return SrtpRejection.BadAuthTag;
        if (!known) _rtcpStreams[ssrc] = replay;
        replay.Accept(index);
        plainLength = authLength - SrtcpIndexLength;
        if (encrypted) Transform(_rtcpStream, _rtcpSalt, ssrc, index, packet[8..plainLength]);
        return SrtpRejection.None;
    }

    /// <summary>The length of the RTP header with its CSRC list and extension (what stays in clear), or -1.</summary>
    private static int RtpHeaderLength(ReadOnlySpan<byte> p)
    {
        if (p.Length < 12 || (p[0] >> 6) != 2) return -1;
        int length = 12 + 4 * (p[0] & 0x0F);
        if ((p[0] & 0x10) != 0)
        {
            if (p.Length < length + 4) return -1;
            length += 4 + 4 * BinaryPrimitives.ReadUInt16BigEndian(p[(length + 2)..]);
        }
        return length <= p.Length ? length : -1;
    }

    private static void Tag(IncrementalHash auth, ReadOnlySpan<byte> authenticated, uint roc, Span<byte> tag)
    {
        Span<byte> rocBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(rocBytes, roc);
        auth.AppendData(authenticated);
        auth.AppendData(rocBytes);
        Span<byte> mac = stackalloc byte[20];
        auth.GetHashAndReset(mac);
        mac[..tag.Length].CopyTo(tag);
    }

    /// <summary>
    /// XORs the AES-CM keystream of RFC 3711 §4.1.1 into <paramref name="data"/>:
    /// IV = (k_s · 2^16) ⊕ (SSRC · 2^64) ⊕ (i · 2^16), blocks AES(IV + j).
    /// </summary>
    private static void Transform(KeyStream cipher, ReadOnlySpan<byte> salt, uint ssrc, ulong index, Span<byte> data)
    {
        Span<byte> iv = stackalloc byte[16];
        salt.CopyTo(iv);
        iv[14] = iv[15] = 0;
        Span<byte> ssrcBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(ssrcBytes, ssrc);
        for (int k = 0; k < 4; k++) iv[4 + k] ^= ssrcBytes[k];
        for (int k = 0; k < 6; k++) iv[8 + k] ^= (byte)(index >> (8 * (5 - k)));
        cipher.Xor(iv, data);
    }

    /// <summary>AES in counter mode from <paramref name="iv"/> (low 16 bits the block counter), XORed into <paramref name="data"/>.</summary>
    internal static void KeyStreamXor(Aes cipher, ReadOnlySpan<byte> iv, Span<byte> data)
    {
        // 256 bytes of counter blocks at a time: one ECB call for a 20 ms G.711 payload, on the stack.
        const int Chunk = 256;
        Span<byte> counters = stackalloc byte[Chunk];
        Span<byte> stream = stackalloc byte[Chunk];
        int block = 0;
        for (int offset = 0; offset < data.Length; offset += Chunk)
        {
            int n = Math.Min(Chunk, data.Length - offset);
            int blocks = (n + 15) / 16;
            for (int b = 0; b < blocks; b++, block++)
            {
                var c = counters.Slice(b * 16, 16);
                iv.CopyTo(c);
                ushort low = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(iv[14..]) + block);
                BinaryPrimitives.WriteUInt16BigEndian(c[14..], low);
            }
            cipher.EncryptEcb(counters[..(blocks * 16)], stream, PaddingMode.None);
            var d = data.Slice(offset, n);
            for (int k = 0; k < n; k++) d[k] ^= stream[k];
        }
    }

    /// <summary>The key derivation of RFC 3711 §4.3.1 with kdr 0: AES-CM under the master key from x = (label ‖ 0^48) ⊕ salt.</summary>
    private static byte[] Derive(Aes master, ReadOnlySpan<byte> masterSalt, byte label, int length)
    {
        Span<byte> iv = stackalloc byte[16];
        masterSalt.CopyTo(iv);
        iv[7] ^= label; // key_id = label ‖ r (48 bits, 0 for kdr 0), right-aligned in the 112-bit salt
        iv[14] = iv[15] = 0;
        var output = new byte[length];
        KeyStreamXor(master, iv, output);
        return output;
    }

    /// <summary>
    /// AES-CM on one reusable ECB transform and buffers: the one-shot <see cref="Aes.EncryptEcb(ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/>
    /// sets up a cipher context per call, which cost more than the packet's encryption itself.
    /// </summary>
    private sealed class KeyStream(Aes cipher) : IDisposable
    {
        private const int Chunk = 256;
        private readonly ICryptoTransform _ecb = cipher.CreateEncryptor(cipher.Key, null);
        private readonly byte[] _counters = new byte[Chunk];
        private readonly byte[] _stream = new byte[Chunk];

        public void Xor(ReadOnlySpan<byte> iv, Span<byte> data)
        {
            int block = 0;
            ushort start = BinaryPrimitives.ReadUInt16BigEndian(iv[14..]);
            for (int offset = 0; offset < data.Length; offset += Chunk)
            {
                int n = Math.Min(Chunk, data.Length - offset);
                int blocks = (n + 15) / 16;
                for (int b = 0; b < blocks; b++, block++)
                {
                    var c = _counters.AsSpan(b * 16, 16);
                    iv.CopyTo(c);
                    BinaryPrimitives.WriteUInt16BigEndian(c[14..], (ushort)(start + block));
                }
                _ecb.TransformBlock(_counters, 0, blocks * 16, _stream, 0);
                var d = data.Slice(offset, n);
                for (int k = 0; k < n; k++) d[k] ^= _stream[k];
            }
        }

        public void Dispose() => _ecb.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _rtpStream.Dispose();
        _rtcpStream.Dispose();
        _rtpCipher.Dispose();
        _rtcpCipher.Dispose();
        _rtpAuth.Dispose();
        _rtcpAuth.Dispose();
    }

    /// <summary>The rollover counter and highest sequence number of one SSRC (RFC 3711 §3.3.1).</summary>
    private sealed class StreamState
    {
        public uint Roc;
        public ushort HighestSeq;
        public ReplayState Replay { get; } = new();

        /// <summary>The ROC the packet with <paramref name="seq"/> most likely belongs to (Appendix A).</summary>
        public uint EstimateRoc(ushort seq)
        {
            if (HighestSeq < 32768) return seq - HighestSeq > 32768 && Roc > 0 ? Roc - 1 : Roc;
            return HighestSeq - 32768 > seq ? Roc + 1 : Roc;
        }

        public void Advance(uint roc, ushort seq)
        {
            if (roc > Roc || (roc == Roc && seq > HighestSeq))
            {
                Roc = roc;
                HighestSeq = seq;
            }
        }
    }

    /// <summary>A sliding window over packet indexes: the highest seen and a bit per each of the 63 before it.</summary>
    private sealed class ReplayState
    {
        private ulong _highest;
        private ulong _seen;
        private bool _any;

        public bool Check(ulong index)
        {
            if (!_any || index > _highest) return true;
            ulong delta = _highest - index;
            return delta < ReplayWindow && (_seen & (1UL << (int)delta)) == 0;
        }

        public void Accept(ulong index)
        {
            if (!_any)
            {
                _any = true;
                _highest = index;
                _seen = 1;
                return;
            }
            if (index > _highest)
            {
                ulong shift = index - _highest;
                _seen = shift >= ReplayWindow ? 1 : (_seen << (int)shift) | 1;
                _highest = index;
            }
            else
            {
                _seen |= 1UL << (int)(_highest - index);
            }
        }
    }
}
