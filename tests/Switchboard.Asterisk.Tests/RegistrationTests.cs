using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.Telephony;

namespace Switchboard.Asterisk.Tests;

/// <summary>The Generic Host registration and the configuration binding.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task AddAsteriskPhoneSystem_binds_the_section_and_registers_one_instance()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Asterisk:Host"] = "127.0.0.1",
            ["Asterisk:Port"] = "1",
            ["Asterisk:Username"] = "cti",
            ["Asterisk:Secret"] = "s3cret",
            ["Asterisk:ChannelTemplate"] = "SIP/{0}",
            ["Asterisk:Devices:0"] = "200",
            ["Asterisk:Devices:1"] = "201",
            ["Asterisk:ConferenceRoom"] = "900",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton(new CallModel(["200", "201"], new CallEventHub()));
        services.AddAsteriskPhoneSystem(config.GetSection("Asterisk"));
        await using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<AsteriskOptions>();
        Assert.Equal(1, options.Port);
        Assert.Equal(["200", "201"], options.Devices);
        Assert.Equal("SIP/{0}", options.ChannelTemplate);
        Assert.Equal("900", options.ConferenceRoom);
        Assert.Equal("internal", options.Context);
        var control = provider.GetRequiredService<ICallControl>();
        Assert.Equal("asterisk", control.Kind);
        Assert.Same(control, provider.GetServices<IHostedService>().OfType<AsteriskPhoneSystem>().Single());
        var system = (AsteriskPhoneSystem)control;
        Assert.Equal("200", system.DeviceOf("SIP/200-00000001"));
        Assert.Null(system.DeviceOf("PJSIP/200-00000001"));
        Assert.Null(system.DeviceOf("SIP/999-00000001"));
        // Not connected: every command says so instead of hanging.
        Assert.Equal(ReplyCode.Unavailable, (await control.MakeCallAsync("200", "201")).Code);
        Assert.Equal(ReplyCode.NotFound, (await control.MakeCallAsync("555", "201")).Code);
    }
}
