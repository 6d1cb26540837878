using System.Buffers;
using System.Text;
using Switchboard.Asterisk.Ami;
using Switchboard.Hostile.Tests.Support;
using Switchboard.Interface.Commands;
using Switchboard.Interface.Extensions;
using Switchboard.Interface.Stream;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Calls;

namespace Switchboard.Hostile.Tests;

/// <summary>
/// The same kind of mutations straight into each parser, where a wrong answer can be seen at once: no exception but
/// the documented rejection, bounded printable error texts, and only what the grammar allows in what is accepted.
/// </summary>
public sealed class ParserCorpusTests
{
    [Fact]
    public void Sip_parser_accepts_or_rejects_every_input_with_a_reason_and_its_accessors_never_throw()
    {
        var m = new Mutator(3261);
        for (int n = 0; n < 1_500; n++)
        {
            var bytes = m.Mutate(Encoding.UTF8.GetBytes(Valid.Sip(m.Pick(Valid.SipMethods), n, 5060)), maxLength: 70_000);
            foreach (var datagram in new[] { true, false })
            {
                var status = SipParser.Parse(bytes, datagram, SipParserLimits.Default, out var msg, out var consumed, out var error);
                Assert.InRange(consumed, 0, bytes.Length);
                if (status == SipParseStatus.Invalid) Printable(error!, 200, "SIP error");
                if (msg is null) continue;
                _ = msg.CSeq;
                _ = msg.From.SipUri;
                _ = msg.To.Tag;
                _ = msg.TopVia?.Branch;
                foreach (var c in msg.All(SipHeaderNames.Contact)) _ = NameAddress.Parse(c).SipUri;
                if (msg is SipRequest r) _ = SipUri.Parse(r.Uri);
                _ = msg.ToBytes();
                if (status == SipParseStatus.Complete && msg.Body.Length > 0)
                {
                    _ = SdpText.AudioOf(msg.Body);
                    _ = SdpText.DirectionOf(msg.Body);
                }
            }
        }
    }

    [Fact]
    public void Sdp_reading_never_throws_and_only_returns_usable_media()
    {
        var m = new Mutator(4566);
        for (int n = 0; n < 1_000; n++)
        {
            var sdp = m.Mutate(Encoding.ASCII.GetBytes(Valid.Sdp), maxLength: 20_000);
            if (SdpText.AudioOf(sdp) is { } audio) Assert.InRange(audio.Port, 1, 65535);
            _ = SdpText.WithDirection(sdp, "sendonly");
            string? origin = null, rest = null;
            long version = 0;
            _ = SdpText.WithOrigin(sdp, ref origin, ref version, ref rest);
        }
    }

    [Fact]
    public void Command_parser_answers_every_line_with_a_command_or_a_printable_reason()
    {
        var m = new Mutator(2504);
        for (int n = 0; n < 2_000; n++)
        {
            var line = m.Mutate(m.Pick(Valid.Commands), maxLength: 4_000);
            if (CommandParser.TryParse(line, out var command, out var error))
            {
                Assert.NotNull(command);
                if (!(command.Device is Command.OwnExtensionPlaceholder or "*" || NumberFormat.IsExtension(command.Device)))
                    Assert.Fail($"device '{Bounds.Show(command.Device)}' from {Bounds.Show(line)}");
                if (command.Argument is { } a) Printable(a, 64, "argument");
            }
            else Printable(error, 300, $"error for {Bounds.Show(line)}");
        }
    }

    [Fact]
    public void An_extra_argument_with_a_tab_is_echoed_printable()
    {
        // Tabs separate the verb and device only; one inside an extra argument went back raw in the reply line.
        Assert.False(CommandParser.TryParse("Drop 101 a\tb", out _, out var error));
        Assert.Equal("Drop 101: unexpected extra argument 'a\\x09b' (Drop <device>)", error);
    }

    [Fact]
    public void Http_head_parser_returns_a_request_or_a_bad_request()
    {
        var m = new Mutator(7230);
        const string Head = "GET /Status%20100 HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\nConnection: keep-alive\r\nContent-Length: 0\r\nAccess-Control-Request-Headers: x-a";
        for (int n = 0; n < 1_500; n++)
        {
            var head = m.Mutate(Head, maxLength: 9_000);
            try
            {
                var r = HttpSession.ParseHead(head);
                Assert.True(r.ContentLength >= 0, $"Content-Length {r.ContentLength} from {Bounds.Show(head)}");
                if (r.RequestHeaders is { } h) Printable(h, 9_000, "Access-Control-Request-Headers");
            }
            catch (HttpSession.HttpBadRequest bad)
            {
                Printable(bad.Message, 200, "HTTP error");
            }
        }
    }

    [Fact]
    public void Ami_packet_parser_reads_packets_or_refuses_the_stream()
    {
        var m = new Mutator(5039);
        var limits = new AmiLimits();
        for (int n = 0; n < 1_500; n++)
        {
            var bytes = m.Mutate(Encoding.UTF8.GetBytes(Valid.Ami(n) + Valid.Ami(n + 1)), maxLength: 70_000);
            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                while (AmiPacketParser.TryReadPacket(ref buffer, limits, out var packet))
                {
                    Assert.NotNull(packet);
                    if (packet.IsEvent) _ = AmiEvent.From(packet);
                }
            }
            catch (AmiProtocolException ex)
            {
                Printable(ex.Message, 200, "AMI error");
            }
        }
    }

    [Fact]
    public void Ini_parser_maps_only_addresses_to_extensions()
    {
        var m = new Mutator(1662);
        for (int n = 0; n < 1_500; n++)
        {
            var text = m.Mutate(Valid.Ini, maxLength: 100_000);
            if (!ExtensionMap.TryParse(System.Text.Encoding.UTF8.GetBytes(text), out var map, out _)) continue;
            foreach (var (address, ext) in map)
            {
                Assert.False(address.IsIPv4MappedToIPv6);
                Assert.True(NumberFormat.IsExtension(ext), $"'{Bounds.Show(ext)}' from {Bounds.Show(text)}");
            }
        }
    }

    private static void Printable(string text, int max, string what)
    {
        Assert.True(text.Length <= max, $"{what}: {text.Length} chars: {Bounds.Show(text)}");
        foreach (var c in text)
            if (c is < ' ' or > '~') Assert.Fail($"{what} holds U+{(int)c:X4}: {Bounds.Show(text)}");
    }
}
