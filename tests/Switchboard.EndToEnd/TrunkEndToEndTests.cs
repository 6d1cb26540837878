using System.Globalization;
using Switchboard.Testing;
using Switchboard.Testing.Phones;
using Switchboard.Switch.Trunks;

namespace Switchboard.EndToEnd;

/// <summary>MakeCall over the IP interface to an outside number, through a trunk to Kamailio, answered by a real phone there.</summary>
public sealed class TrunkEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sb-trunk-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task MakeCall_in_crm_format_reaches_the_provider_phone_in_national_format_and_both_hear_each_other()
    {
        // Kamailio as the provider: it takes the registration (401), challenges INVITEs (407) and delivers them to the
        // party registered under the dialled number, here a baresip phone.
        using var provider = Kamailio.Start(_dir, KamailioRole.Provider(), "provider");
        await using var server = await SwitchboardServer.StartAsync(_dir, new()
        {
            ["Sip:Trunks:0:Name"] = "provider",
            ["Sip:Trunks:0:Host"] = "127.0.0.1",
            ["Sip:Trunks:0:Port"] = provider.Port.ToString(CultureInfo.InvariantCulture),
            ["Sip:Trunks:0:Username"] = "trunkuser",
            ["Sip:Trunks:0:Password"] = "pw-trunkuser",
            ["Sip:Trunks:0:Register"] = "true",
            ["Sip:Trunks:0:NumberFormat"] = "National",
            ["Sip:Trunks:0:Dids:+4989555100"] = "100",
        });
        var registration = Assert.Single(server.Switch.TrunkRegistrations);
        for (int i = 0; i < 100 && registration.State != TrunkRegistrationState.Registered; i++) await Task.Delay(50);
        Assert.Equal(TrunkRegistrationState.Registered, registration.State);

        // The far end: a phone registered at the provider under the national number.
        await using var remote = await Baresip.StartAsync("far", _dir,
            $"<sip:0891234567@127.0.0.1:{provider.Port}>;auth_pass=pw-0891234567;answermode=manual;regint=600", "tone:1000");
        await using var alice = await Baresip.StartAsync("t100", _dir, server.Account("100", answerMode: "auto"), "tone:440");
        await server.WaitRegisteredAsync("100");
        // The far phone's registration at Kamailio shows in its SIP trace (its ctrl_tcp has no event for it here).
        for (int i = 0; i < 100 && !File.ReadAllText(Path.Combine(remote.Directory, "baresip.log")).Contains("SIP/2.0 200 OK", StringComparison.Ordinal); i++)
            await Task.Delay(50);
        await using var client = await LineClient.ConnectAsync(server.CommandPort);

        Assert.StartsWith("200 MakeCall 100 +49891234567", await client.CommandAsync("MakeCall 100 +49 (89) 123-4567"));
        var incoming = await remote.WaitEventAsync("CALL_INCOMING");
        Assert.Contains("089555100", (string?)incoming["peeruri"]);
        await remote.CommandAsync("accept");
        await remote.WaitEventAsync("CALL_ESTABLISHED");
        await Task.Delay(2500);
        Assert.StartsWith("200 Drop 100", await client.CommandAsync("Drop 100"));
        await remote.WaitEventAsync("CALL_CLOSED");
        Assert.Equal(440, remote.ReceivedFrequency());

        Assert.StartsWith("403 MakeCall 100 +49900123456: refused:", await client.CommandAsync("MakeCall 100 +49 900 123456"));
    }
}
