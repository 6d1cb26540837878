using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Switchboard.Media.Codecs;
using Switchboard.Media.Rtp;
using Switchboard.Media.Srtp;

namespace Switchboard.Media.Tests;

/// <summary>
/// STUN Binding requests on the RTP port (linphone 5.1 sends two to the switch's RTP port at the start of every call,
/// before its first SRTP packet): ignored as no media, never counted as forged SRTP or as bad packets, real UDP sockets.
/// </summary>
public sealed class StunOnRtpPortTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    /// <summary>A Binding request as RFC 5389 §6 frames it: type 0x0001, no attributes, the magic cookie, a transaction id.</summary>
    private static byte[] BindingRequest()
    {
        var stun = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(stun, 0x0001);
        BinaryPrimitives.WriteUInt32BigEndian(stun.AsSpan(4), 0x2112A442);
        Random.Shared.NextBytes(stun.AsSpan(8, 12));
        return stun;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken token)
    {
        while (!condition()) await Task.Delay(20, token);
    }

    [Fact]
    public async Task Stun_binding_requests_to_an_srtp_endpoint_are_ignored_not_rejected_and_the_srtp_after_them_is_received()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        await using var endpoint = engine.CreateEndpoint();
        var phoneKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        var switchKey = SdesCrypto.Generate(1, SrtpSuite.AesCm128HmacSha1_80);
        using var phone = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var protect = phoneKey.CreateContext();
        endpoint.SetRemote((IPEndPoint)phone.Client.LocalEndPoint!, AudioCodec.Pcmu);
        endpoint.SetSrtp(switchKey.CreateContext(), phoneKey.CreateContext());
        using var guard = new CancellationTokenSource(Guard);

        await phone.SendAsync(BindingRequest(), endpoint.LocalEndPoint, guard.Token);
        await phone.SendAsync(BindingRequest(), endpoint.LocalEndPoint, guard.Token);
        var buffer = new byte[12 + 160 + 10];
        for (int i = 0; i < 5; i++)
        {
            Assert.True(new RtpPacket(0, (ushort)(100 + i), (uint)(160 * i), 0x5EC0DE, new byte[160], marker: false).TryWrite(buffer, out var length));
            length = protect.ProtectRtp(buffer, length);
            await phone.SendAsync(buffer.AsMemory(0, length), endpoint.LocalEndPoint, guard.Token);
        }

        // One socket, read in order: once the SRTP is in, the two requests before it have been handled.
        await WaitUntilAsync(() => endpoint.PacketsReceived == 5, guard.Token);
        Assert.Equal(2, endpoint.IgnoredPackets);
        Assert.Equal(0, endpoint.SrtpRejected);
        Assert.Equal(0, endpoint.BadPackets);
    }

    [Fact]
    public async Task A_stun_binding_request_to_a_plain_endpoint_is_ignored_while_garbage_with_a_zero_first_byte_is_still_bad()
    {
        await using var engine = new MediaEngine(new MediaEngineOptions());
        await using var endpoint = engine.CreateEndpoint();
        using var phone = new TestPhone(AudioCodec.Pcmu, 440);
        endpoint.SetRemote(phone.LocalEndPoint, AudioCodec.Pcmu);
        using var guard = new CancellationTokenSource(Guard);

        await phone.SendRawAsync(endpoint.LocalEndPoint, BindingRequest());
        // The STUN header's first two bits without the magic cookie: no STUN, so no exemption.
        await phone.SendRawAsync(endpoint.LocalEndPoint, new byte[20]);
        await phone.SendToneAsync(endpoint.LocalEndPoint, 3, guard.Token);

        await WaitUntilAsync(() => endpoint.PacketsReceived == 3, guard.Token);
        Assert.Equal(1, endpoint.IgnoredPackets);
        Assert.Equal(1, endpoint.BadPackets);
    }
}
