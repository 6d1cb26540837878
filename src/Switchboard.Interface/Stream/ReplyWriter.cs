using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Switchboard.Telephony;

namespace Switchboard.Interface.Stream;

/// <summary>Writes reply and event lines into a pipe without intermediate strings for the code.</summary>
internal static class ReplyWriter
{
    public static void WriteReply(PipeWriter writer, CallControlResult reply)
    {
        var span = writer.GetSpan(5 + Encoding.ASCII.GetMaxByteCount(reply.Message.Length) + 2);
        int code = (int)reply.Code;
        span[0] = (byte)('0' + code / 100);
        span[1] = (byte)('0' + code / 10 % 10);
        span[2] = (byte)('0' + code % 10);
        span[3] = (byte)' ';
        int n = 4 + Encoding.ASCII.GetBytes(reply.Message, span[4..]);
        span[n++] = (byte)'\r';
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteLine(PipeWriter writer, string line)
    {
        var span = writer.GetSpan(Encoding.ASCII.GetMaxByteCount(line.Length) + 2);
        int n = Encoding.ASCII.GetBytes(line, span);
        span[n++] = (byte)'\r';
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteAscii(IBufferWriter<byte> writer, string text)
    {
        var span = writer.GetSpan(Encoding.ASCII.GetMaxByteCount(text.Length));
        writer.Advance(Encoding.ASCII.GetBytes(text, span));
    }
}
