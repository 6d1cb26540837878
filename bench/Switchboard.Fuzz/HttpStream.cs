using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Interface;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Interface.Stream;
using Switchboard.Telephony;

namespace Switchboard.Fuzz;

/// <summary>
/// The HTTP side of port 2503 as a socket drives it: <see cref="HttpSession"/> over a stream pipe reader (the same
/// buffer sizes as a connection) whose reads return the input in pieces of a fuzzer-chosen size, so request framing
/// across read and segment boundaries is explored, not only the head parser. The promise checked: every request gets
/// an answer, so output is never empty for non-empty input, and it is a sequence of well-formed responses.
/// </summary>
internal static class HttpStream
{
    private static readonly CommandInterpreter Interpreter = new(new FakeCallControl(), new AccessPolicy(new AccessOptions()));
    private static readonly IpInterfaceOptions Options = new();
    private static readonly IPEndPoint Remote = new(IPAddress.Loopback, 40000);

    public static void Run(byte[] data)
    {
        if (data.Length < 2) return;
        int piece = 1 + data[0] * 16;
        var input = new PieceStream(data.AsMemory(1), piece);
        var output = new MemoryStream();
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 512));
        var writer = PipeWriter.Create(output);
        var session = new HttpSession(reader, writer, Interpreter, Options, Remote, NullLogger.Instance, CancellationToken.None);
        session.RunAsync().GetAwaiter().GetResult();
        writer.Complete();
        var text = Encoding.Latin1.GetString(output.ToArray());
        // Every connection that sent something is owed at least one response (a 400 for a head cut off).
        if (text.Length == 0) throw new InvalidOperationException($"no answer to {data.Length - 1} bytes read in pieces of {piece}");
        foreach (var block in text.Split("HTTP/1.1 ").Skip(1))
        {
            if (block.Length < 4 || !char.IsAsciiDigit(block[0]) || !char.IsAsciiDigit(block[1]) || !char.IsAsciiDigit(block[2]) || block[3] != ' ')
                throw new InvalidOperationException($"bad status line: {Check.Show(block)}");
        }
        if (!text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal)) throw new InvalidOperationException($"output is not HTTP: {Check.Show(text)}");
    }

    /// <summary>A read-only stream that hands out at most <c>piece</c> bytes a read, like a socket receiving TCP segments.</summary>
    private sealed class PieceStream(ReadOnlyMemory<byte> data, int piece) : System.IO.Stream
    {
        private int _pos;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(Math.Min(piece, buffer.Length), data.Length - _pos);
            data.Span.Slice(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A FAKE phone system: every service succeeds at once and nothing rings; only the framing is under test.</summary>
    private sealed class FakeCallControl : ICallControl
    {
        private static readonly ValueTask<CallControlResult> Done = ValueTask.FromResult(CallControlResult.Ok("done (fake)"));

        public string Kind => "fake";
        public IReadOnlyCollection<string> Devices { get; } = ["100", "101", "102"];
        public ValueTask<CallControlResult> MakeCallAsync(string device, string destination, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> AnswerAsync(string device, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> DropAsync(string device, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> RedirectAsync(string device, string target, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> ToggleAsync(string device, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> TransferAsync(string device, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> ConferenceAsync(string device, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> PickupAsync(string device, string other, CancellationToken cancellationToken = default) => Done;
        public ValueTask<CallControlResult> ForwardAsync(string device, ForwardingSetting setting, CancellationToken cancellationToken = default) => Done;

        public ValueTask<DeviceStatus?> GetStatusAsync(string device, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<DeviceStatus?>(Devices.Contains(device) ? new DeviceStatus(device, true, ForwardingSetting.Off, []) : null);
    }
}
