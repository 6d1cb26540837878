using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Media.Codecs;
using Switchboard.Media.Rtp;
using Switchboard.Testing.Phones;

namespace Switchboard.Media.Tests;

/// <summary>
/// G.722 against a known-good implementation: a real baresip phone (Debian's g722.so, built on spandsp's ITU-exact
/// coder) plays a 16 kHz WAV, records what it fed its encoder, and sends the G.722 to this test, which answers its
/// INVITE with a minimal SIP answer. Our encoder, fed the same samples, must produce the same bytes.
/// </summary>
public sealed class G722ReferenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-g722-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Our_encoder_produces_baresips_G722_bytes_for_the_same_samples_and_our_decoder_hears_its_tones()
    {
        var wav = Path.Combine(_dir, "speech-like.wav");
        WriteTestSignal(wav);
        using var sip = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var rtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var sipPort = ((IPEndPoint)sip.Client.LocalEndPoint!).Port;
        var rtpPort = ((IPEndPoint)rtp.Client.LocalEndPoint!).Port;
        await using var phone = await Baresip.StartAsync("ref", _dir, "<sip:ref@127.0.0.1>;regint=0;answermode=manual", "file:" + wav, codecs: ["g722.so"]);

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var payloads = new ConcurrentQueue<(ushort Sequence, byte[] Payload)>();
        var capture = Task.Run(async () =>
        {
            while (payloads.Count < 150)
            {
                var datagram = await rtp.ReceiveAsync(guard.Token);
                if (RtpPacket.TryParse(datagram.Buffer, out var packet) && packet.PayloadType == G722.PayloadType)
                {
                    payloads.Enqueue((packet.SequenceNumber, packet.Payload.ToArray()));
                }
            }
        });

        await phone.CommandAsync("dial", $"sip:g722@127.0.0.1:{sipPort}");
        await AnswerInviteAsync(sip, rtpPort, guard.Token);
        await phone.WaitEventAsync("CALL_ESTABLISHED");
        await capture;
        await phone.CommandAsync("hangup");

        var encoderInput = Directory.GetFiles(phone.RecordingDirectory, "*-enc.wav").Single();
        var (samples, rate) = Audio.Read(encoderInput);
        Assert.Equal(16000, rate);

        // The bytes we would have sent for the same samples, from the first one the phone encoded.
        var ours = new byte[samples.Length / 2];
        new G722Encoder().Encode(samples.AsSpan(0, ours.Length * 2), ours);

        var received = payloads.OrderBy(p => p.Sequence).Select(p => p.Payload).ToList();
        Assert.All(received, p => Assert.Equal(160, p.Length));
        var theirs = received.SelectMany(p => p).ToArray();

        // The phone may have encoded a few frames before its first packet left; find where its stream starts in ours.
        var first = received[0];
        var offset = -1;
        for (var at = 0; at + 160 <= ours.Length && at <= 20 * 160; at += 160)
        {
            if (ours.AsSpan(at, 160).SequenceEqual(first))
            {
                offset = at;
                break;
            }
        }

        Assert.True(offset >= 0, $"baresip's first G.722 packet is nowhere in our encoding; first bytes theirs {Convert.ToHexString(first[..16])}, ours {Convert.ToHexString(ours[..16])}");
        var compared = Math.Min(theirs.Length, ours.Length - offset);
        Assert.True(compared >= 100 * 160, $"only {compared} bytes to compare");
        var mismatch = ours.AsSpan(offset, compared).CommonPrefixLength(theirs.AsSpan(0, compared));
        Assert.True(mismatch == compared, $"our G.722 differs from baresip's at byte {mismatch} of {compared}");

        // And our decoder, given baresip's bytes, hears the three tones of the signal at their levels.
        var decoded = new short[theirs.Length * 2];
        new G722Decoder().Decode(theirs, decoded);
        var heard = decoded.AsSpan(16000, 16000);
        var sent = samples.AsSpan(offset * 2 + 16000, 16000);
        foreach (var frequency in new[] { 440.0, 2900.0, 6100.0 })
        {
            var db = 10 * Math.Log10(Goertzel.Power(heard, frequency, 16000) / Goertzel.Power(sent, frequency, 16000));
            Assert.InRange(db, -1.5, 1.5);
        }
    }

    /// <summary>Three tones in both bands, a slow level change and a little noise, so every quantiser level is used.</summary>
    private static void WriteTestSignal(string path)
    {
        const int rate = 16000;
        var n = rate * 60;
        var random = new Random(722);
        using var w = new BinaryWriter(File.Create(path));
        w.Write("RIFF"u8);
        w.Write(36 + (n * 2));
        w.Write("WAVEfmt "u8);
        w.Write(16);
        w.Write((short)1);
        w.Write((short)1);
        w.Write(rate);
        w.Write(rate * 2);
        w.Write((short)2);
        w.Write((short)16);
        w.Write("data"u8);
        w.Write(n * 2);
        for (var i = 0; i < n; i++)
        {
            var t = i / (double)rate;
            var envelope = 0.55 + (0.45 * Math.Sin(2 * Math.PI * 0.7 * t));
            var x = envelope * ((6000 * Math.Sin(2 * Math.PI * 440 * t)) + (4000 * Math.Sin(2 * Math.PI * 2900 * t)) + (3000 * Math.Sin(2 * Math.PI * 6100 * t)))
                + (random.NextDouble() - 0.5) * 600;
            w.Write((short)Math.Clamp(Math.Round(x), short.MinValue, short.MaxValue));
        }
    }

    /// <summary>Answers the phone's INVITE with 200 OK and an SDP of G.722 only, pointing at <paramref name="rtpPort"/>.</summary>
    private static async Task AnswerInviteAsync(UdpClient sip, int rtpPort, CancellationToken token)
    {
        while (true)
        {
            var request = await sip.ReceiveAsync(token);
            var text = Encoding.ASCII.GetString(request.Buffer);
            if (!text.StartsWith("INVITE ", StringComparison.Ordinal))
            {
                continue;
            }

            var headers = text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)].Split("\r\n").Skip(1).ToList();
            string Copy(string name) => string.Join("", headers.Where(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)).Select(h => h + "\r\n"));
            var local = (IPEndPoint)sip.Client.LocalEndPoint!;
            var sdp = $"v=0\r\no=ref 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtpPort} RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\na=ptime:20\r\na=sendrecv\r\n";
            var to = Copy("To").TrimEnd() + ";tag=ref\r\n";
            var response = "SIP/2.0 200 OK\r\n" + Copy("Via") + Copy("From") + to + Copy("Call-ID") + Copy("CSeq") +
                $"Contact: <sip:g722@127.0.0.1:{local.Port}>\r\nContent-Type: application/sdp\r\nContent-Length: {sdp.Length}\r\n\r\n" + sdp;
            await sip.SendAsync(Encoding.ASCII.GetBytes(response), request.RemoteEndPoint, token);
            return;
        }
    }
}
