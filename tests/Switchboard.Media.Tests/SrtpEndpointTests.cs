using System.Net;
using System.Net.Sockets;
using Switchboard.Media.Codecs;
using Switchboard.Media.Rtp;
using Switchboard.Media.Srtp;
using Switchboard.Tests.Shared;

namespace Switchboard.Media.Tests;

/// <summary>
/// An SRTP phone and a plain RTP phone bridged by the engine: real UDP sockets, the SRTP phone's side keyed as SDES
/// would key it. Forged and replayed packets are dropped and counted, the log stays short, and the call goes on.
/// </summary>
public sealed class SrtpEndpointTests
{
    private const int Frame = 160;

    /// <summary>A phone on a UDP socket that speaks SRTP with its own key and decrypts what the switch sends with the switch's.</summary>
    private sealed class SrtpPhone(SrtpContext send, SrtpContext receive) : IDisposable
    {
        private readonly UdpClient _client = new(new IPEndPoint(IPAddress.Loopback, 0));
        private ushort _seq = 65500; // the ROC wraps during the call
        private uint _ts = 1000;
        private long _sample;
        public readonly List<byte[]> Sent = [];
        public readonly List<short> Heard = [];
        public int Undecryptable;

        public IPEndPoint LocalEndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

        public async Task SendToneAsync(IPEndPoint to, double hz)
        {
            var samples = new short[Frame];
            var payload = new byte[Frame];
            var buffer = new byte[12 + Frame + 10];
            Goertzel.Tone(samples, hz, _sample);
            _sample += Frame;
            G711.Encode(AudioCodec.Pcmu, samples, payload);
            Assert.True(new RtpPacket(0, _seq++, _ts, 0xA11CE, payload, marker: false).TryWrite(buffer, out var length));
            _ts += Frame;
            length = send.ProtectRtp(buffer, length);
            Sent.Add(buffer[..length]);
            await _client.SendAsync(buffer.AsMemory(0, length), to);
        }

        public Task SendRawAsync(IPEndPoint to, byte[] datagram) => _client.SendAsync(datagram, to).AsTask();

        public async Task DrainAsync(TimeSpan wait)
        {
            using var cts = new CancellationTokenSource(wait);
            try
            {
                while (true)
                {
                    var r = await _client.ReceiveAsync(cts.Token);
                    var d = r.Buffer;
                    if (receive.UnprotectRtp(d, out int n) != SrtpRejection.None || !RtpPacket.TryParse(d.AsSpan(0, n), out var p))
                    {
                        Undecryptable++;
                        continue;
                    }
                    if (p.PayloadType != 0) continue;
                    var frame = new short[p.Payload.Length];
                    G711.Decode(AudioCodec.Pcmu, p.Payload, frame);
                    Heard.AddRange(frame);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public void Dispose()
        {
            _client.Dispose();
            send.Dispose();
            receive.Dispose();
        }
    }

    [Fact]
    public async Task Forged_and_replayed_srtp_is_dropped_counted_and_logged_briefly_while_both_phones_keep_hearing_each_other()
    {
        var log = new CapturingLogger();
        await using var engine = new MediaEngine(new MediaEngineOptions(), log.For<MediaEngine>());
        await using var secure = engine.CreateEndpoint();
        await using var plain = engine.CreateEndpoint();
        var phoneKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        var switchKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        using var alice = new SrtpPhone(phoneKey.CreateContext(), switchKey.CreateContext());
        using var bob = new TestPhone(AudioCodec.Pcmu, 1000);
        secure.SetRemote(alice.LocalEndPoint, AudioCodec.Pcmu);
        secure.SetSrtp(switchKey.CreateContext(), phoneKey.CreateContext());
        plain.SetRemote(bob.LocalEndPoint, AudioCodec.Pcmu);
        await using var conference = engine.CreateConference();
        conference.Add(secure);
        conference.Add(plain);

        using var stop = new CancellationTokenSource();
        var bobHears = bob.ReceiveAsync(stop.Token);
        var aliceHears = alice.DrainAsync(TimeSpan.FromSeconds(4));
        var bobTalks = bob.SendToneAsync(plain.LocalEndPoint, 100, stop.Token);
        int forged = 0, replayed = 0;
        for (int i = 0; i < 100; i++)
        {
            await alice.SendToneAsync(secure.LocalEndPoint, 440);
            if (i % 4 == 1)
            {
                var copy = alice.Sent[^1].ToArray();
                copy[20] ^= 0x80; // altered payload: the tag no longer matches
                await alice.SendRawAsync(secure.LocalEndPoint, copy);
                forged++;
            }
            if (i % 4 == 3)
            {
                await alice.SendRawAsync(secure.LocalEndPoint, alice.Sent[^2]); // an old genuine packet again
                replayed++;
            }
            if (i % 10 == 5)
            {
                // Plain RTP into the secure endpoint (a spoofer without the key): as forged as a bad tag.
                var rtp = new byte[12 + Frame];
                Assert.True(new RtpPacket(0, 7, 7, 0xA11CE, new byte[Frame], marker: false).TryWrite(rtp, out _));
                await alice.SendRawAsync(secure.LocalEndPoint, rtp);
                forged++;
            }
            await Task.Delay(20);
        }
        await bobTalks;
        await aliceHears;
        await stop.CancelAsync();
        await bobHears;

        Assert.Equal(forged + replayed, secure.SrtpRejected);
        Assert.Equal(0, plain.BadPackets);
        var lines = log.Lines.Count(l => l.Id.Id == 4011);
        Assert.InRange(lines, 3, 5); // the first three, then the 10th (and the 100th at most)
        Assert.Contains(log.Lines, l => l.Id.Id == 4011 && l.Text.Contains("BadAuthTag", StringComparison.Ordinal));

        // Bob hears alice's 440 Hz, decrypted: not the noise that ciphertext decoded as G.711 would be.
        var heardByBob = bob.ReceivedAudio(5, out var bobPackets);
        Assert.True(bobPackets > 50, $"bob received {bobPackets} packets");
        Assert.True(Goertzel.Power(heardByBob, 440) > 10 * Goertzel.Power(heardByBob, 1000), "bob does not hear alice's tone");
        // Alice gets SRTP under the switch's key only, and in it bob's 1000 Hz.
        Assert.Equal(0, alice.Undecryptable);
        Assert.True(alice.Heard.Count > 50 * Frame, $"alice decoded {alice.Heard.Count} samples");
        var heardByAlice = alice.Heard.Skip(10 * Frame).ToArray();
        Assert.True(Goertzel.Power(heardByAlice, 1000) > 10 * Goertzel.Power(heardByAlice, 440), "alice does not hear bob's tone");
    }
}
