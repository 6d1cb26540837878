using System.Buffers;
using System.Text;
using SharpFuzz;
using Switchboard.Asterisk.Ami;
using Switchboard.Interface.Commands;
using Switchboard.Interface.Extensions;
using Switchboard.Interface.Stream;
using Switchboard.Sip.Messages;
using Switchboard.Switch.Calls;

namespace Switchboard.Fuzz;

/// <summary>
/// Coverage-guided fuzz targets, one per parser, for AFL++ through SharpFuzz (<c>scripts/fuzz.sh</c>). A target
/// "crashes" when the parser throws anything but its documented rejection, or breaks one of its own promises
/// (bounded, printable error text; a parsed command whose parts are what the grammar allows).
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Action<byte[]>> Targets = new(StringComparer.Ordinal)
    {
        ["sip"] = Sip,
        ["command"] = CommandLine,
        ["http"] = HttpHead,
        ["httpstream"] = HttpStream.Run,
        ["ini"] = Ini,
        ["ami"] = Ami,
        ["sdp"] = Sdp,
    };

    public static int Main(string[] args)
    {
        if (args.Length >= 2 && args[0] == "seeds")
        {
            // seeds <target> <dir>: valid inputs for AFL to start from.
            Directory.CreateDirectory(args[2]);
            int n = 0;
            foreach (var seed in Seeds.For(args[1])) File.WriteAllBytes(Path.Combine(args[2], $"seed{n++:000}"), seed);
            return 0;
        }
        if (args.Length >= 2 && args[0] == "run")
        {
            // run <target> <file>...: replays inputs without the fuzzer (reproducing a crash, checking a fix).
            var run = Targets[args[1]];
            foreach (var file in args.Skip(2)) run(File.ReadAllBytes(file));
            return 0;
        }
        if (args.Length != 1 || !Targets.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Switchboard.Fuzz <{string.Join('|', Targets.Keys)}> | seeds <target> <dir> | run <target> <file>...");
            return 2;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            target(ms.ToArray());
        });
        return 0;
    }

    private static void Sip(byte[] data)
    {
        if (data.Length == 0) return;
        // The first byte picks datagram or stream framing, so both paths are explored from one corpus.
        bool datagram = (data[0] & 1) == 0;
        ReadOnlySpan<byte> rest = data.AsSpan(1);
        for (int i = 0; i < 8 && !rest.IsEmpty; i++)
        {
            var status = SipParser.Parse(rest, datagram, SipParserLimits.Default, out var message, out var consumed, out var error);
            if (consumed < 0 || consumed > rest.Length) throw new InvalidOperationException($"consumed {consumed} of {rest.Length}");
            if (status == SipParseStatus.Invalid) Check.Text(error, 300, "SIP parse error");
            if (message is not null) Touch(message);
            if (datagram || consumed == 0) break;
            rest = rest[consumed..];
        }
    }

    // The accessors the switch calls on every message: none of them may throw on what the parser let through.
    private static void Touch(SipMessage m)
    {
        _ = m.CSeq;
        _ = m.From.SipUri;
        _ = m.From.Tag;
        _ = m.To.SipUri;
        _ = m.TopVia?.Branch;
        _ = m.CallId;
        foreach (var c in m.All(SipHeaderNames.Contact)) _ = NameAddress.Parse(c).SipUri;
        if (m is SipRequest r) _ = SipUri.Parse(r.Uri)?.PortOrDefault;
        _ = m.ToBytes();
    }

    private static void CommandLine(byte[] data)
    {
        var text = Encoding.Latin1.GetString(data);
        foreach (var line in text.Split('\n'))
        {
            if (CommandParser.TryParse(line.TrimEnd('\r'), out var command, out var error))
            {
                if (command is null) throw new InvalidOperationException("success without a command");
                if (command.Device is not (Command.OwnExtensionPlaceholder or "*") && !NumberFormat.IsExtension(command.Device))
                    throw new InvalidOperationException($"parsed device '{command.Device}' is not an extension");
                Check.Text(command.Argument, 64, "argument");
            }
            else Check.Text(error, 400, "command error");
        }
    }

    private static void HttpHead(byte[] data)
    {
        var head = Encoding.Latin1.GetString(data);
        int cr = Array.IndexOf(data, (byte)'\r');
        _ = HttpSession.IsRequestLine(new ReadOnlySequence<byte>(data, 0, cr >= 0 ? cr : data.Length));
        try
        {
            var r = HttpSession.ParseHead(head);
            if (r.ContentLength < 0) throw new InvalidOperationException($"negative Content-Length {r.ContentLength}");
            Check.Text(r.RequestHeaders, 16 * 1024, "Access-Control-Request-Headers");
        }
        catch (HttpSession.HttpBadRequest bad)
        {
            Check.Text(bad.Message, 200, "HTTP error");
        }
    }

    private static void Ini(byte[] data)
    {
        if (!ExtensionMap.TryParse(data, out var map, out _)) return;
        foreach (var (_, ext) in map)
            if (!NumberFormat.IsExtension(ext)) throw new InvalidOperationException($"mapped to '{ext}', not an extension");
    }

    private static void Ami(byte[] data)
    {
        var limits = new AmiLimits { MaxLineBytes = 256, MaxHeaders = 32, MaxPacketBytes = 2048 };
        var buffer = new ReadOnlySequence<byte>(data);
        try
        {
            if (!AmiPacketParser.TryReadLine(ref buffer, limits.MaxLineBytes, out _)) return;
            for (int i = 0; i < 64 && AmiPacketParser.TryReadPacket(ref buffer, limits, out var packet); i++)
            {
                // The typed view the connector switches on for every event.
                _ = packet!.Kind;
                _ = packet.ActionId;
                if (packet.IsEvent) _ = AmiEvent.From(packet);
            }
        }
        catch (AmiProtocolException)
        {
        }
    }

    private static void Sdp(byte[] data)
    {
        _ = SdpText.AudioOf(data);
        _ = SdpText.DirectionOf(data);
        string? origin = null, lastRest = null;
        long version = 0;
        _ = SdpText.WithOrigin(data, ref origin, ref version, ref lastRest);
        _ = SdpText.WithDirection(data, "sendonly");
    }
}

/// <summary>Promises every parser makes about the text it hands back.</summary>
internal static class Check
{
    public static string Show(string s) => new([.. (s.Length > 120 ? s[..120] : s).Select(c => c is >= ' ' and <= '~' ? c : '?')]);

    public static void Text(string? text, int max, string what)
    {
        if (text is null) return;
        if (text.Length > max) throw new InvalidOperationException($"{what} is {text.Length} chars (more than {max})");
        foreach (var c in text)
            if (c is < ' ' or > '~') throw new InvalidOperationException($"{what} holds U+{(int)c:X4}: {text}");
    }
}
