using System.Diagnostics;
using System.Globalization;
using Switchboard.Switch.Trunks;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>Registration of a trunk at a real Kamailio: digest, refresh, and surviving a restart of the upstream.</summary>
public sealed class KamailioTrunkTests
{
    [Fact]
    public async Task The_registration_is_refreshed_and_comes_back_after_the_upstream_restarts()
    {
        int port = Ports.FreeUdp();
        var dir = Directory.CreateTempSubdirectory("sb-kam-").FullName;
        using var kamailio = new Kamailio(dir, port);
        kamailio.Start();
        try
        {
            await using var f = new TrunkFixture(t =>
            {
                t.Password = "pw-trunkuser";
                t.Register = true;
                t.RegisterExpires = 2;
                t.RegisterRetrySeconds = 0.5;
                t.RegisterRetryMaxSeconds = 2;
            }, upstreamPort: port);
            var reg = Assert.Single(f.Switch.TrunkRegistrations);
            var states = new List<TrunkRegistrationState>();
            reg.StateChanged += s => { lock (states) states.Add(s); };

            await f.WaitForAsync(() => reg.Accepted >= 2, "the first registration and a refresh");
            Assert.Equal(TrunkRegistrationState.Registered, reg.State);
            Assert.Equal(TimeSpan.FromSeconds(2), reg.Granted);

            kamailio.Stop();
            await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the refresh to fail with the upstream down", 20);
            var acceptedWhileDown = reg.Accepted;
            kamailio.Start();
            await f.WaitForAsync(() => reg.Accepted > acceptedWhileDown && reg.State == TrunkRegistrationState.Registered, "registration after the restart", 30);
            await f.WaitForAsync(() => reg.Accepted > acceptedWhileDown + 1, "a refresh after the restart");

            // The restarted Kamailio knows where the account is: a call to it arrives as the DID (in To) and rings 100.
            int phonePort = Ports.FreeUdp();
            using var phone = Sipp.Start("builtin:uas", phonePort, null);
            await f.RegisterPhoneAsync("100", phonePort);
            using var caller = Sipp.Start("provider_call_in.xml", Ports.FreeUdp(), $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
                "-s", "trunkuser", "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "talk_ms", "200");
            var (code, output) = await caller.ExitAsync();
            Assert.True(code == 0, "caller through Kamailio: " + output);
            Assert.Equal(0, (await phone.ExitAsync()).Code);
            var log = kamailio.ReadLog();
            Assert.Contains("REQ REGISTER sip:127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), log, StringComparison.Ordinal);
        }
        finally
        {
            kamailio.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_password_leaves_the_registration_failed_and_retrying()
    {
        int port = Ports.FreeUdp();
        var dir = Directory.CreateTempSubdirectory("sb-kam-").FullName;
        using var kamailio = new Kamailio(dir, port);
        kamailio.Start();
        try
        {
            await using var f = new TrunkFixture(t =>
            {
                t.Password = "wrong";
                t.Register = true;
                t.RegisterRetrySeconds = 0.2;
            }, upstreamPort: port);
            var reg = Assert.Single(f.Switch.TrunkRegistrations);
            await f.WaitForAsync(() => reg.State == TrunkRegistrationState.Failed, "the registration to fail");
            Assert.StartsWith("401", reg.LastError, StringComparison.Ordinal);
            Assert.Equal(0, reg.Accepted);
            await f.WaitForAsync(() => reg.NextAttemptIn >= TimeSpan.FromSeconds(0.8), "the back-off to grow");
        }
        finally
        {
            kamailio.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }
}
