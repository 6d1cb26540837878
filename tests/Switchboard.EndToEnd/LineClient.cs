namespace Switchboard.EndToEnd;

/// <summary>A TCP client of the IP interface: one command, one reply line; EVENT lines are kept aside.</summary>
public sealed class LineClient : IAsyncDisposable
{
    private readonly System.Net.Sockets.TcpClient _tcp;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly List<string> _events = [];

    private LineClient(System.Net.Sockets.TcpClient tcp)
    {
        _tcp = tcp;
        _reader = new StreamReader(tcp.GetStream());
        _writer = new StreamWriter(tcp.GetStream()) { AutoFlush = true, NewLine = "\r\n" };
    }

    public static async Task<LineClient> ConnectAsync(int port)
    {
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        return new LineClient(tcp);
    }

    public async Task<string> CommandAsync(string line)
    {
        await _writer.WriteLineAsync(line);
        while (true)
        {
            var reply = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? throw new IOException("connection closed");
            if (reply.StartsWith("EVENT ", StringComparison.Ordinal)) _events.Add(reply);
            else return reply;
        }
    }

    /// <summary>All EVENT lines seen, reading on until one satisfies <paramref name="until"/>.</summary>
    public async Task<List<string>> ReadEventsAsync(Func<string, bool> until)
    {
        while (!_events.Any(until))
        {
            var line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? throw new IOException("connection closed");
            if (line.StartsWith("EVENT ", StringComparison.Ordinal)) _events.Add(line);
        }
        return _events;
    }

    /// <summary>
    /// Whether a Status reply lists a call ("… calls: 11=connected:101"), not just other key=value facts such as
    /// where the phone registered from ("registered=UDP:10.1.2.3:5062").
    /// </summary>
    public static bool ShowsCall(string status) =>
        status.Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries)
            .Any(word => word.IndexOf('=') is > 0 and var eq && word[..eq].All(char.IsAsciiDigit));

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
