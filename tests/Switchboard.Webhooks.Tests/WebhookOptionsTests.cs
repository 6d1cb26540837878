using Microsoft.Extensions.Configuration;

namespace Switchboard.Webhooks.Tests;

/// <summary>Reading Webhooks:&lt;name&gt; from configuration: what is required and what is refused.</summary>
public sealed class WebhookOptionsTests
{
    private static IConfiguration Section(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>("Webhooks:" + v.Key, v.Value))).Build().GetSection("Webhooks");

    [Fact]
    public void A_receiver_is_read_with_its_filter_and_defaults()
    {
        var r = WebhookReceiverOptions.FromConfiguration(Section(("crm:Url", "https://crm.example.com/hook"), ("crm:Secret", "0123456789abcdef"),
            ("crm:Events:0", "ringing"), ("crm:Events:1", "call.ended"))).Single();
        Assert.Equal("crm", r.Name);
        Assert.Equal(WebhookEvents.Ringing | WebhookEvents.Ended, r.Events);
        Assert.Equal(1000, r.QueueCapacity);
        Assert.Equal(TimeSpan.FromSeconds(1), r.RetryDelay(1));
        Assert.Equal(TimeSpan.FromSeconds(8), r.RetryDelay(4));
        Assert.Equal(TimeSpan.FromMinutes(1), r.RetryDelay(40));
    }

    [Theory]
    [InlineData("crm:Url", "https://crm.example.com/hook", "Webhooks:crm:Secret is missing")]
    [InlineData("crm:Secret", "0123456789abcdef", "Webhooks:crm:Url is missing")]
    public void A_receiver_without_url_or_secret_stops_the_start(string key, string value, string message)
    {
        var ex = Assert.Throws<FormatException>(() => WebhookReceiverOptions.FromConfiguration(Section((key, value))));
        Assert.Contains(message, ex.Message);
    }

    [Theory]
    [InlineData("ftp://crm.example.com/", "0123456789abcdef", "not an absolute http:// or https:// URL")]
    [InlineData("file:///etc/passwd", "0123456789abcdef", "not an absolute http:// or https:// URL")]
    [InlineData("https://user:pw@crm.example.com/", "0123456789abcdef", "without user info")]
    [InlineData("https://crm.example.com/", "short", "shorter than 16 characters")]
    public void Bad_urls_and_short_secrets_are_refused(string url, string secret, string message)
    {
        var ex = Assert.Throws<FormatException>(() => WebhookReceiverOptions.FromConfiguration(Section(("crm:Url", url), ("crm:Secret", secret))));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void An_unknown_event_name_is_refused()
    {
        var ex = Assert.Throws<FormatException>(() => WebhookReceiverOptions.FromConfiguration(Section(("crm:Url", "http://10.0.0.9/"),
            ("crm:Secret", "0123456789abcdef"), ("crm:Events", "ringing,hangup"))));
        Assert.Contains("Webhooks:crm:Events: 'hangup' is not an event", ex.Message);
    }
}
