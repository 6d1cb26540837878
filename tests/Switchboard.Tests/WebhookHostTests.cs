using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Interface;
using Switchboard.Webhooks;

namespace Switchboard.Tests;

/// <summary>
/// The webhooks as the executable wires them from configuration: a MakeCall over the IP interface's TCP port reaches a
/// real local receiver as a signed <c>call.ringing</c>; a receiver without a secret stops the start with a clear message.
/// </summary>
public sealed class WebhookHostTests
{
    private static Dictionary<string, string?> Config(string dir) => new()
    {
        ["PhoneSystem"] = "simulated",
        ["IpInterface:Port"] = "0",
        ["IpInterface:ListenAddress"] = "127.0.0.1",
        ["CtiServer:Enabled"] = "false",
        ["Database"] = Path.Combine(dir, "sb.db"),
        ["DialFiles:Directory"] = Path.Combine(dir, "dial"),
        ["ExtensionMap"] = dir,
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>One HTTP request read off a plain socket, answered 204.</summary>
    private static async Task<(string Head, byte[] Body)> ReceiveOneAsync(TcpListener listener, CancellationToken ct)
    {
        using var client = await listener.AcceptTcpClientAsync(ct);
        var stream = client.GetStream();
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        int headEnd;
        while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8.ToArray())) < 0)
        {
            int n = await stream.ReadAsync(chunk, ct);
            if (n == 0) throw new IOException("closed before the request head ended");
            buffer.AddRange(chunk.AsSpan(0, n));
        }
        var head = Encoding.ASCII.GetString(buffer.GetRange(0, headEnd).ToArray());
        var lengthLine = head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        int length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        while (buffer.Count < headEnd + 4 + length)
        {
            int n = await stream.ReadAsync(chunk, ct);
            if (n == 0) throw new IOException("closed before the body ended");
            buffer.AddRange(chunk.AsSpan(0, n));
        }
        await stream.WriteAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray(), ct);
        return (head, buffer.GetRange(headEnd + 4, length).ToArray());
    }

    private static int IndexOf(List<byte> data, byte[] pattern)
    {
        for (int i = 0; i + pattern.Length <= data.Count; i++)
        {
            int j = 0;
            while (j < pattern.Length && data[i + j] == pattern[j]) j++;
            if (j == pattern.Length) return i;
        }
        return -1;
    }

    [Fact]
    public async Task A_MakeCall_on_the_IP_port_reaches_the_configured_receiver_as_a_signed_ringing()
    {
        var dir = Directory.CreateTempSubdirectory("sb-hookhost-").FullName;
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        const string secret = "host-test-secret-0123456789";
        var config = Config(dir);
        config["Webhooks:crm:Url"] = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/hook";
        config["Webhooks:crm:Secret"] = secret;
        config["Webhooks:crm:Events"] = "ringing";
        var host = SwitchboardHost.Build([], c => c.AddInMemoryCollection(config));
        try
        {
            await host.StartAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var received = ReceiveOneAsync(listener, timeout.Token);

            var ip = host.Services.GetRequiredService<IpInterfaceServer>().LocalEndPoint;
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(ip, timeout.Token);
            var stream = tcp.GetStream();
            await stream.WriteAsync("MakeCall 100 101\r\n"u8.ToArray(), timeout.Token);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            Assert.StartsWith("200", await reader.ReadLineAsync(timeout.Token));

            var (head, body) = await received;
            Assert.StartsWith("POST /hook HTTP/1.1", head);
            var headers = head.Split("\r\n").Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            Assert.True(WebhookSignature.Verify(secret, headers["X-Switchboard-Timestamp"], headers["X-Switchboard-Signature"], body,
                DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
            var json = JsonDocument.Parse(body).RootElement;
            Assert.Equal("call.ringing", json.GetProperty("type").GetString());
            Assert.Equal("101", json.GetProperty("device").GetString());
            Assert.Equal("100", json.GetProperty("calling").GetString());
        }
        finally
        {
            await host.StopAsync();
            host.Dispose();
            listener.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_receiver_without_a_secret_stops_the_start_naming_the_key()
    {
        var dir = Directory.CreateTempSubdirectory("sb-hookhost-").FullName;
        try
        {
            var config = Config(dir);
            config["Webhooks:crm:Url"] = "https://crm.example.com/hook";
            var ex = Assert.Throws<StartupException>(() => SwitchboardHost.Build([], c => c.AddInMemoryCollection(config)));
            Assert.Contains("Webhooks:crm:Secret is missing", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
