using System.Net;
using System.Net.Sockets;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Telephony;
using Switchboard.Web;

namespace Switchboard.Tests;

public sealed class CtiWebServerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-web-").FullName;
    private IHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _host = await SimulatedHost.StartAsync(_dir, new Dictionary<string, string?>
        {
            ["CtiServer:WebSocketSendTimeout"] = "00:00:00.300",
        });
        _http = WebSignIn.Client(_host);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Api_lists_devices_and_runs_commands_through_the_interpreter()
    {
        var devices = await _http.GetFromJsonAsync<JsonElement>("/api/devices");
        Assert.Equal(["100", "101", "102", "103", "104", "105"], devices.EnumerateArray().Select(d => d.GetProperty("device").GetString()));

        var ok = await _http.PostAsync("/api/commands", new StringContent("MakeCall 100 101"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var bad = await _http.PostAsync("/api/commands", new StringContent("Answer 100"));
        Assert.Equal(HttpStatusCode.Conflict, bad.StatusCode);
        Assert.Contains("no ringing call at 100", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetString());

        var dev = await _http.GetFromJsonAsync<JsonElement>("/api/devices/101");
        Assert.Equal("alerting", dev.GetProperty("calls")[0].GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/api/devices/999")).StatusCode);
        Assert.Contains("<h1>Switchboard</h1>", await _http.GetStringAsync("/"));
    }

    [Fact]
    public async Task Outside_calls_follow_the_toll_fraud_rules_by_default()
    {
        var international = await _http.PostAsync("/api/commands", new StringContent("MakeCall 100 +44 20 7946 0000"));
        Assert.Equal(HttpStatusCode.Forbidden, international.StatusCode);
        Assert.Contains("DeniedPrefixes (prefix 00)", (await international.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetString());
        var premium = await _http.PostAsync("/api/commands", new StringContent("Forward 101 0900 123456"));
        Assert.Equal(HttpStatusCode.Forbidden, premium.StatusCode);
        var national = await _http.PostAsync("/api/commands", new StringContent("MakeCall 100 +49 (89) 123-4567"));
        Assert.Equal(HttpStatusCode.OK, national.StatusCode);
    }

    [Fact]
    public async Task WebSocket_streams_the_events_of_a_call_as_json()
    {
        using var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", _http.DefaultRequestHeaders.Authorization!.ToString());
        await ws.ConnectAsync(new Uri(_http.BaseAddress!.ToString().Replace("http", "ws", StringComparison.Ordinal) + "api/events?device=101"), CancellationToken.None);
        var hello = await ReceiveAsync(ws);
        Assert.Equal("subscribed", hello.GetProperty("type").GetString());

        await _http.PostAsync("/api/commands", new StringContent("MakeCall 100 101"));
        var ev = await ReceiveAsync(ws);
        Assert.Equal("Delivered", ev.GetProperty("name").GetString());
        Assert.Equal("101", ev.GetProperty("device").GetString());
        Assert.Equal("alerting", ev.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_WebSocket_client_that_never_reads_is_cut_off()
    {
        var hub = _host.Services.GetRequiredService<CallEventHub>();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, _http.BaseAddress!.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /api/events?device=* HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
            $"Authorization: {_http.DefaultRequestHeaders.Authorization}\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        // The hello message is sent once the subscription exists.
        var head = new StringBuilder();
        var chunk = new byte[1024];
        using (var hello = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            while (!head.ToString().Contains("\"subscribed\"", StringComparison.Ordinal))
                head.Append(Encoding.Latin1.GetString(chunk, 0, await socket.ReceiveAsync(chunk, SocketFlags.None, hello.Token)));
        Assert.StartsWith("HTTP/1.1 101 ", head.ToString());
        Assert.Equal(1, hub.SubscriberCount);

        // Far more than the socket buffers hold; the client reads nothing meanwhile.
        for (int i = 0; i < 100_000; i++) hub.Publish(CallEventType.Delivered, "100", "1", ConnectionState.Alerting, subject: "101");

        // The server gives up on the client: reading what is buffered ends in the connection's close, not a wait forever.
        var buffer = new byte[65536];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        Assert.Equal(0, hub.SubscriberCount);
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket ws)
    {
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var r = await ws.ReceiveAsync(buffer, cts.Token);
        return JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, r.Count)).RootElement;
    }
}
