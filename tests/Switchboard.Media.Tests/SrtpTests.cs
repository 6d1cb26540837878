using System.Buffers.Binary;
using System.Security.Cryptography;
using Switchboard.Media.Srtp;

namespace Switchboard.Media.Tests;

/// <summary>SRTP and SRTCP (RFC 3711) against its Appendix B vectors, and the receive checks: tag, replay, ROC.</summary>
public sealed class SrtpTests
{
    private static readonly byte[] MasterKey = Convert.FromHexString("E1F97A0D3E018BE0D64FA32C06DE4139");
    private static readonly byte[] MasterSalt = Convert.FromHexString("0EC675AD498AFEEBB6960B3AABE6");

    [Fact]
    public void Session_keys_are_derived_as_rfc_3711_appendix_b3_lists_them()
    {
        using var ctx = new SrtpContext(SrtpSuite.AesCm128HmacSha1_80, MasterKey, MasterSalt);
        Assert.Equal("C61E7A93744F39EE10734AFE3FF7A087", Convert.ToHexString(ctx.SessionKey));
        Assert.Equal("30CBBC08863D8C85D49DB34A9AE1", Convert.ToHexString(ctx.SessionSalt));
        Assert.Equal("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", Convert.ToHexString(ctx.SessionAuthKey));
    }

    [Fact]
    public void The_aes_cm_keystream_matches_rfc_3711_appendix_b2()
    {
        using var aes = Aes.Create();
        aes.Key = Convert.FromHexString("2B7E151628AED2A6ABF7158809CF4F3C");
        var iv = Convert.FromHexString("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
        var stream = new byte[0xFF02 * 16];
        SrtpContext.KeyStreamXor(aes, iv, stream);
        string Block(int i) => Convert.ToHexString(stream, i * 16, 16);
        Assert.Equal("E03EAD0935C95E80E166B16DD92B4EB4", Block(0x0000));
        Assert.Equal("D23513162B02D0F72A43A2FE4A5F97AB", Block(0x0001));
        Assert.Equal("41E95B3BB0A2E8DD477901E4FCA894C0", Block(0x0002));
        Assert.Equal("EC8CDF7398607CB0F2D21675EA9EA1E4", Block(0xFEFF));
        Assert.Equal("362B7C3C6773516318A077D7FC5073AE", Block(0xFF00));
        Assert.Equal("6A2CC3787889374FBEB4C81B17BA6C44", Block(0xFF01));
    }

    private static byte[] Rtp(ushort seq, uint ssrc = 0x11223344, byte fill = 0xD5)
    {
        var p = new byte[12 + 160 + 10];
        p[0] = 0x80;
        p[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), seq * 160u);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        p.AsSpan(12, 160).Fill(fill);
        return p;
    }

    private static (SrtpContext Tx, SrtpContext Rx) Pair(SrtpSuite suite)
    {
        var key = SdesCrypto.Generate(1, suite);
        return (key.CreateContext(), key.CreateContext());
    }

    [Theory]
    [InlineData(SrtpSuite.AesCm128HmacSha1_80, 10)]
    [InlineData(SrtpSuite.AesCm128HmacSha1_32, 4)]
    public void A_protected_packet_is_encrypted_tagged_and_decrypts_to_the_original(SrtpSuite suite, int tag)
    {
        var (tx, rx) = Pair(suite);
        using var _ = tx;
        using var __ = rx;
        var packet = Rtp(1000);
        var plain = packet.AsSpan(0, 172).ToArray();
        int n = tx.ProtectRtp(packet, 172);
        Assert.Equal(172 + tag, n);
        Assert.Equal(plain[..12], packet[..12]); // the header stays in clear
        Assert.NotEqual(plain[12..], packet[12..172]);
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(packet.AsSpan(0, n), out int plainLength));
        Assert.Equal(172, plainLength);
        Assert.Equal(plain, packet[..172]);
    }

    [Fact]
    public void A_packet_with_a_bad_tag_is_rejected_and_leaves_the_stream_able_to_take_the_next_genuine_one()
    {
        var key = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        using var tx = key.CreateContext();
        using var rx = key.CreateContext();
        var first = Rtp(1);
        int n = tx.ProtectRtp(first, 172);
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(first.AsSpan(0, n), out _));

        var forged = Rtp(2);
        n = tx.ProtectRtp(forged, 172);
        forged[40] ^= 0x01; // one payload bit changed on the way
        Assert.Equal(SrtpRejection.BadAuthTag, rx.UnprotectRtp(forged.AsSpan(0, n), out _));

        // A forgery far ahead (its tag broken) must not move the window or the ROC either.
        using var other = key.CreateContext();
        var ahead = Rtp(40000);
        n = other.ProtectRtp(ahead, 172);
        ahead[n - 1] ^= 0xFF;
        Assert.Equal(SrtpRejection.BadAuthTag, rx.UnprotectRtp(ahead.AsSpan(0, n), out _));

        // A packet under another key is no packet of this stream.
        using var stranger = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80).CreateContext();
        var foreign = Rtp(3);
        n = stranger.ProtectRtp(foreign, 172);
        Assert.Equal(SrtpRejection.BadAuthTag, rx.UnprotectRtp(foreign.AsSpan(0, n), out _));

        var genuine = Rtp(3);
        n = tx.ProtectRtp(genuine, 172);
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(genuine.AsSpan(0, n), out _));
    }

    [Fact]
    public void A_replayed_packet_and_one_older_than_the_window_are_rejected_and_reordered_ones_inside_it_taken()
    {
        var (tx, rx) = Pair(SrtpSuite.AesCm128HmacSha1_80);
        var sent = new Dictionary<ushort, byte[]>();
        for (ushort s = 100; s < 200; s++)
        {
            var p = Rtp(s);
            int n = tx.ProtectRtp(p, 172);
            sent[s] = p[..n];
        }
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(sent[100].ToArray(), out _));
        Assert.Equal(SrtpRejection.Replayed, rx.UnprotectRtp(sent[100].ToArray(), out _));
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(sent[190].ToArray(), out _));
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(sent[150].ToArray(), out _)); // late, 40 behind: inside the window
        Assert.Equal(SrtpRejection.Replayed, rx.UnprotectRtp(sent[150].ToArray(), out _));
        Assert.Equal(SrtpRejection.Replayed, rx.UnprotectRtp(sent[120].ToArray(), out _)); // 70 behind: outside the window
        Assert.Equal(SrtpRejection.Replayed, rx.UnprotectRtp(sent[190].ToArray(), out _));
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(sent[191].ToArray(), out _));
    }

    [Fact]
    public void The_rollover_counter_follows_the_sequence_number_across_its_wrap()
    {
        var (tx, rx) = Pair(SrtpSuite.AesCm128HmacSha1_32);
        // 65530 … 65535, 0 … 9: after the wrap the sender's ROC is 1, and the packets only authenticate with it.
        ushort seq = 65530;
        for (int i = 0; i < 16; i++, seq++)
        {
            var p = Rtp(seq, fill: (byte)i);
            int n = tx.ProtectRtp(p, 172);
            Assert.Equal(SrtpRejection.None, rx.UnprotectRtp(p.AsSpan(0, n), out int length));
            Assert.Equal((byte)i, p[12 + 80]);
            Assert.Equal(172, length);
        }
        // A packet from before the wrap, replayed after it, is old: rejected.
        var (tx2, rx2) = Pair(SrtpSuite.AesCm128HmacSha1_80);
        var before = Rtp(65535);
        int b = tx2.ProtectRtp(before, 172);
        var copy = before[..b];
        Assert.Equal(SrtpRejection.None, rx2.UnprotectRtp(before.AsSpan(0, b), out _));
        for (ushort s = 0; s < 70; s++)
        {
            var p = Rtp(s);
            int n = tx2.ProtectRtp(p, 172);
            Assert.Equal(SrtpRejection.None, rx2.UnprotectRtp(p.AsSpan(0, n), out _));
        }
        Assert.NotEqual(SrtpRejection.None, rx2.UnprotectRtp(copy, out _));
    }

    [Fact]
    public void Srtcp_round_trips_and_rejects_replays_and_bad_tags()
    {
        var (tx, rx) = Pair(SrtpSuite.AesCm128HmacSha1_32);
        // A receiver report: V=2, RC=0, PT=201, length 1 (8 bytes), SSRC.
        var rr = new byte[8 + 20 + SrtpContext.RtcpOverhead];
        rr[0] = 0x80; rr[1] = 201; rr[3] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(rr.AsSpan(4), 0xCAFEBABE);
        rr.AsSpan(8, 20).Fill(0x42);
        var plain = rr[..28];
        int n = tx.ProtectRtcp(rr, 28);
        Assert.Equal(28 + 14, n);
        Assert.NotEqual(plain[8..], rr[8..28]);
        var copy = rr[..n];
        Assert.Equal(SrtpRejection.None, rx.UnprotectRtcp(rr.AsSpan(0, n), out int length));
        Assert.Equal(28, length);
        Assert.Equal(plain, rr[..28]);
        Assert.Equal(SrtpRejection.Replayed, rx.UnprotectRtcp(copy.ToArray(), out _));
        var next = new byte[42];
        plain.CopyTo(next, 0);
        n = tx.ProtectRtcp(next, 28);
        next[10] ^= 4;
        Assert.Equal(SrtpRejection.BadAuthTag, rx.UnprotectRtcp(next.AsSpan(0, n), out _));
        Assert.Equal(SrtpRejection.TooShort, rx.UnprotectRtcp(new byte[12], out _));
    }

    [Fact]
    public void Short_and_non_rtp_packets_are_rejected_without_touching_state()
    {
        var (_, rx) = Pair(SrtpSuite.AesCm128HmacSha1_80);
        Assert.Equal(SrtpRejection.TooShort, rx.UnprotectRtp(new byte[15], out _));
        var p = new byte[40];
        p[0] = 0x8F; // 15 CSRCs claimed in a 40-byte packet
        Assert.Equal(SrtpRejection.TooShort, rx.UnprotectRtp(p, out _));
        p[0] = 0x90; // an extension header whose length runs past the end
        p[14] = 0xFF; p[15] = 0xFF;
        Assert.Equal(SrtpRejection.TooShort, rx.UnprotectRtp(p, out _));
    }
}

/// <summary>The SDES crypto attribute (RFC 4568 §9.1) as phones write it, and what is declined.</summary>
public sealed class SdesCryptoTests
{
    [Fact]
    public void A_generated_attribute_parses_back_to_the_same_key()
    {
        var key = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        var text = key.ToString();
        Assert.Matches("^1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}$", text);
        Assert.Equal(SdesRejection.None, SdesCrypto.TryParse(text, out var back));
        Assert.Equal(key.KeyAndSalt, back!.KeyAndSalt);
        Assert.Equal(SrtpSuite.AesCm128HmacSha1_80, back.Suite);
    }

    [Theory]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.None)]
    [InlineData("2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20", SdesRejection.None)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:4", SdesRejection.Mki)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^10", SdesRejection.ShortLifetime)]
    [InlineData("1 AES_256_CM_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.UnknownSuite)]
    [InlineData("1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.UnknownSuite)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=", SdesRejection.BadKey)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64!!!", SdesRejection.BadKey)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTP", SdesRejection.SessionParameters)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz;inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj", SdesRejection.SeveralKeys)]
    [InlineData("x AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.Malformed)]
    [InlineData("1 AES_CM_128_HMAC_SHA1_80 WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.Malformed)]
    [InlineData("1234567890 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SdesRejection.Malformed)]
    [InlineData("", SdesRejection.Malformed)]
    public void Attributes_are_taken_or_declined_with_their_reason(string value, SdesRejection expected)
    {
        Assert.Equal(expected, SdesCrypto.TryParse(value, out var crypto));
        Assert.Equal(expected == SdesRejection.None, crypto is not null);
    }

    [Fact]
    public void An_oversized_attribute_is_declined_before_it_is_read()
    {
        Assert.Equal(SdesRejection.Malformed, SdesCrypto.TryParse("1 AES_CM_128_HMAC_SHA1_80 inline:" + new string('A', 10_000), out _));
    }
}
