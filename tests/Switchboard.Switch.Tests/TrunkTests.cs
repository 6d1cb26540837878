using System.Diagnostics;
using System.Globalization;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Transport;
using Switchboard.Switch.Trunks;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>Number handling of trunks: formats, routing by prefix, DIDs and caller ID.</summary>
public sealed class TrunkRouterTests
{
    private static TrunkOptions T(string name, TrunkNumberFormat format, params string[] prefixes) =>
        new() { Name = name, Host = "127.0.0.1", NumberFormat = format, Prefixes = [.. prefixes], Username = "acct" };

    [Theory]
    [InlineData("+49891234567", TrunkNumberFormat.E164, "+49891234567")]
    [InlineData("+49891234567", TrunkNumberFormat.International, "0049891234567")]
    [InlineData("+49891234567", TrunkNumberFormat.National, "0891234567")]
    [InlineData("+12125551234", TrunkNumberFormat.National, "0012125551234")]
    [InlineData("0891234567", TrunkNumberFormat.E164, "+49891234567")]
    [InlineData("0049891234567", TrunkNumberFormat.National, "0891234567")]
    public void A_number_reaches_the_trunk_in_its_format(string dialled, TrunkNumberFormat format, string expected)
    {
        var router = new TrunkRouter([T("t", format, "+")]);
        var route = router.Route(dialled, out var reason);
        Assert.True(route is not null, reason);
        Assert.Equal(expected, route.Value.Dialled);
    }

    [Fact]
    public void The_longest_prefix_picks_the_trunk_and_an_unrouted_number_names_the_reason()
    {
        var router = new TrunkRouter([T("germany", TrunkNumberFormat.National, "+49"), T("munich", TrunkNumberFormat.National, "+4989")]);
        Assert.Equal("munich", router.Route("+49891234567", out _)!.Value.Trunk.Name);
        Assert.Equal("germany", router.Route("0301234567", out _)!.Value.Trunk.Name);
        Assert.Null(router.Route("+12125551234", out var reason));
        Assert.Contains("no trunk routes +12125551234", reason, StringComparison.Ordinal);
        Assert.Null(new TrunkRouter([]).Route("+49891234567", out var none));
        Assert.Contains("no trunk", none, StringComparison.Ordinal);
    }

    [Fact]
    public void An_outside_line_prefix_is_required_for_numbers_without_plus_and_removed()
    {
        var router = new TrunkRouter([T("t", TrunkNumberFormat.E164, "+")], outsideLinePrefix: "0");
        Assert.Equal("+49891234567", router.Route("00891234567", out _)!.Value.Dialled);
        Assert.Equal("+49891234567", router.Route("+49891234567", out _)!.Value.Dialled);
        Assert.Null(router.Route("891234567", out var reason));
        Assert.Contains("dial 0 for an outside line", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Dids_match_in_any_format_and_an_extension_presents_its_own_did()
    {
        var o = T("t", TrunkNumberFormat.National, "+");
        o.Dids = new() { ["+4989555100"] = "100" };
        o.CallerId = "+4989555000";
        var trunk = new TrunkRouter([o]).Trunks[0];
        foreach (var called in new[] { "+4989555100", "004989555100", "089555100", "4989555100" })
            Assert.Equal("100", TrunkRouter.Did(trunk, called));
        Assert.Null(TrunkRouter.Did(trunk, "089555199"));
        Assert.Equal("089555100", TrunkRouter.CallerIdOf(trunk, "100"));
        Assert.Equal("089555000", TrunkRouter.CallerIdOf(trunk, "101"));
        Assert.Equal("+4930123456", TrunkRouter.CallerNumber(trunk, "030123456"));
    }

    [Fact]
    public void Calls_from_a_trunk_are_recognised_by_address_and_port()
    {
        var o = T("t", TrunkNumberFormat.E164, "+");
        o.Port = 5080;
        o.InboundSources = ["10.0.0.7"];
        var router = new TrunkRouter([o]);
        Assert.NotNull(router.FromSource(new SipEndPoint(SipProtocol.Udp, System.Net.IPEndPoint.Parse("127.0.0.1:5080"))));
        Assert.Null(router.FromSource(new SipEndPoint(SipProtocol.Udp, System.Net.IPEndPoint.Parse("127.0.0.1:5081"))));
        Assert.NotNull(router.FromSource(new SipEndPoint(SipProtocol.Udp, System.Net.IPEndPoint.Parse("10.0.0.7:40000"))));
    }
}

/// <summary>Calls through a trunk against sipp acting as the provider, and toll-fraud refusals.</summary>
public sealed class TrunkCallTests
{
    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>The requests sipp received, from its -message_file, in order.</summary>
    private static List<string> Received(string file, string method)
    {
        var text = File.ReadAllText(file);
        var result = new List<string>();
        foreach (var chunk in text.Split("----------------------------------------------", StringSplitOptions.RemoveEmptyEntries))
        {
            if (!chunk.Contains("message received", StringComparison.Ordinal)) continue;
            int start = chunk.IndexOf(method + " sip:", StringComparison.Ordinal);
            if (start >= 0 && (start == 0 || chunk[start - 1] == '\n')) result.Add(chunk[start..].Replace("\r\n", "\n", StringComparison.Ordinal));
        }
        return result;
    }

    private static string? Header(string message, string name)
    {
        foreach (var line in message.Split('\n'))
            if (line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)) return line[(name.Length + 1)..].Trim();
        return null;
    }

    private static void AssertDigest(string invite, string header, string realm, string user, string password)
    {
        var value = Header(invite, header);
        Assert.True(value is not null, $"{header} missing in\n{invite}");
        var d = DigestHeader.Parse(value)!;
        Assert.Equal(user, d["username"]);
        Assert.Equal(realm, d["realm"]);
        var expected = DigestAlgorithms.Response("MD5", user, realm, password, "INVITE", d["uri"]!, d["nonce"]!, d["qop"], d["nc"], d["cnonce"]);
        Assert.Equal(expected, d["response"]);
    }

    [Fact]
    public async Task MakeCall_to_plus49_reaches_the_provider_in_national_format_answering_407_and_401_with_the_trunk_credentials()
    {
        await using var f = new TrunkFixture(t => t.NumberFormat = TrunkNumberFormat.National);
        var messages = Path.Combine(f.Dir, "provider.log");
        using var provider = Sipp.Start("provider_auth.xml", f.UpstreamPort, null, "-trace_msg", "-message_file", messages);
        int phonePort = Ports.FreeUdp();
        using var phone = Sipp.Start("phone_makecall.xml", phonePort, null);
        await f.RegisterPhoneAsync("100", phonePort);

        // "+49 (89) 123-4567" as the CTI command parser normalises it.
        var result = await f.Switch.MakeCallAsync("100", "+49891234567");
        Assert.True(result.IsSuccess, result.Message);
        await f.WaitForAsync(() => f.Model.FirstInState("100", ConnectionState.Connected) is not null
            && f.Model.PartnersOf(f.Model.FirstInState("100", ConnectionState.Connected)!).Any(p => p.State == ConnectionState.Connected), "the call to connect");
        await f.Switch.DropAsync("100");
        var (code, output) = await provider.ExitAsync();
        Assert.True(code == 0, "provider: " + output);
        Assert.Equal(0, (await phone.ExitAsync()).Code);

        var invites = Received(messages, "INVITE");
        Assert.Equal(3, invites.Count);
        Assert.All(invites, i => Assert.StartsWith($"INVITE sip:0891234567@127.0.0.1:{P(f.UpstreamPort)} SIP/2.0", i, StringComparison.Ordinal));
        Assert.All(invites, i => Assert.Contains("<sip:089555100@127.0.0.1>", Header(i, "From"), StringComparison.Ordinal));
        Assert.All(invites, i => Assert.Equal("<sip:089555100@127.0.0.1>", Header(i, "P-Asserted-Identity")));
        Assert.Null(Header(invites[0], "Proxy-Authorization"));
        AssertDigest(invites[1], "Proxy-Authorization", "proxy.provider", "trunkuser", "trunkpw");
        AssertDigest(invites[2], "Proxy-Authorization", "proxy.provider", "trunkuser", "trunkpw");
        AssertDigest(invites[2], "Authorization", "provider", "trunkuser", "trunkpw");
        var cseqs = invites.Select(i => int.Parse(Header(i, "CSeq")!.Split(' ')[0], CultureInfo.InvariantCulture)).ToList();
        Assert.True(cseqs[0] < cseqs[1] && cseqs[1] < cseqs[2], "CSeq must grow: " + string.Join(",", cseqs));
    }

    [Fact]
    public async Task A_phone_dialling_with_the_outside_line_prefix_reaches_the_provider_in_international_format()
    {
        await using var f = new TrunkFixture(t => t.NumberFormat = TrunkNumberFormat.International, sw => sw.OutsideLinePrefix = "0");
        var messages = Path.Combine(f.Dir, "provider.log");
        using var provider = Sipp.Start("provider_auth.xml", f.UpstreamPort, null, "-trace_msg", "-message_file", messages);
        using var caller = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "00891234567", "-au", "101", "-ap", "pw101",
            "-key", "caller", "101", "-key", "talk_ms", "300");
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "phone: " + output);
        Assert.Equal(0, (await provider.ExitAsync()).Code);
        var invite = Received(messages, "INVITE")[^1];
        Assert.StartsWith($"INVITE sip:0049891234567@127.0.0.1:{P(f.UpstreamPort)} SIP/2.0", invite, StringComparison.Ordinal);
        Assert.Equal("<sip:004989555101@127.0.0.1>", Header(invite, "P-Asserted-Identity"));
    }

    [Fact]
    public async Task A_blocked_prefix_dialled_on_a_phone_gets_403_naming_the_rule()
    {
        await using var f = new TrunkFixture();
        var messages = Path.Combine(f.Dir, "phone.log");
        using var caller = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "0900123456", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "403", "-trace_msg", "-message_file", messages);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, output);
        var text = File.ReadAllText(messages);
        Assert.Contains("SIP/2.0 403 Forbidden (+49900123456 is blocked by OutsideCalls:DeniedPrefixes (prefix 0900))", text, StringComparison.Ordinal);
        Assert.Empty(f.Model.Calls);
    }

    [Fact]
    public async Task MakeCall_refusals_name_the_rule_device_permission_prefix_and_rate_limit()
    {
        // Three attempts a minute: the two refused numbers count too, so the third attempt is the last one allowed.
        await using var f = new TrunkFixture(policy: new OutsideCallOptions { AllowedDevices = ["100"], MaxCallsPerDevicePerMinute = 3 });
        var premium = await f.Switch.MakeCallAsync("100", "+49900123456");
        Assert.Equal(ReplyCode.Forbidden, premium.Code);
        Assert.Contains("DeniedPrefixes (prefix 0900)", premium.Message, StringComparison.Ordinal);
        var intl = await f.Switch.MakeCallAsync("100", "+12125551234");
        Assert.Equal(ReplyCode.Forbidden, intl.Code);
        Assert.Contains("prefix 00", intl.Message, StringComparison.Ordinal);
        var notAllowed = await f.Switch.MakeCallAsync("101", "+49891234567");
        Assert.Equal(ReplyCode.Forbidden, notAllowed.Code);
        Assert.Contains("AllowedDevices", notAllowed.Message, StringComparison.Ordinal);

        await f.RegisterPhoneAsync("100", Ports.FreeUdp()); // nothing answers there: the call stays ringing
        Assert.True((await f.Switch.MakeCallAsync("100", "+49891234567")).IsSuccess);
        await f.Switch.DropAsync("100");
        var second = await f.Switch.MakeCallAsync("100", "+49891234568");
        Assert.Equal(ReplyCode.Forbidden, second.Code);
        Assert.Contains("MaxCallsPerDevicePerMinute", second.Message, StringComparison.Ordinal);

        var forward = await f.Switch.ForwardAsync("100", ForwardingSetting.To("+49900123456"));
        Assert.Equal(ReplyCode.Forbidden, forward.Code);
    }

    [Fact]
    public async Task Without_a_trunk_outside_numbers_get_404()
    {
        await using var f = new TrunkFixture(sw: o => o.Trunks = []);
        var r = await f.Switch.MakeCallAsync("100", "+49891234567");
        Assert.Equal(ReplyCode.NotFound, r.Code);
        Assert.Contains("no trunk", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_inbound_call_to_a_did_rings_extension_100_with_the_callers_number_in_the_events()
    {
        await using var f = new TrunkFixture();
        int phonePort = Ports.FreeUdp();
        using var phone = Sipp.Start("builtin:uas", phonePort, null);
        await f.RegisterPhoneAsync("100", phonePort);
        using var events = f.Model.Events.Subscribe("100");
        using var provider = Sipp.Start("provider_call_in.xml", f.UpstreamPort, f.Remote, "-s", "+4989555100",
            "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "talk_ms", "300");
        var (code, output) = await provider.ExitAsync();
        Assert.True(code == 0, "provider: " + output);
        Assert.Equal(0, (await phone.ExitAsync()).Code);
        var seen = new List<CallEvent>();
        while (events.Reader.TryRead(out var e)) seen.Add(e);
        Assert.Contains(seen, e => e.Type == CallEventType.Delivered && e.Calling == "+4930123456" && e.Called == "100");
        await f.WaitForAsync(() => f.Journal.Recent(5).Any(j => j.Ended is not null), "the journal row to be closed");
        var row = Assert.Single(f.Journal.Recent(5));
        Assert.Equal(("+4930123456", "100", "100", CallOutcome.Completed), (row.Calling, row.Called, row.AnsweredBy, row.Outcome));
    }

    [Fact]
    public async Task An_inbound_call_to_an_unknown_number_gets_404_and_a_stranger_is_challenged()
    {
        await using var f = new TrunkFixture();
        var messages = Path.Combine(f.Dir, "provider.log");
        using (var provider = Sipp.Start("provider_call_in.xml", f.UpstreamPort, f.Remote, "-s", "+4989555199",
            "-key", "to", "+4989555199", "-key", "caller", "030123456", "-key", "talk_ms", "100", "-trace_msg", "-message_file", messages, "-timeout", "3s"))
            Assert.NotEqual(0, (await provider.ExitAsync()).Code);
        Assert.Contains("SIP/2.0 404", File.ReadAllText(messages), StringComparison.Ordinal);
        var stranger = Path.Combine(f.Dir, "stranger.log");
        using (var other = Sipp.Start("provider_call_in.xml", Ports.FreeUdp(), f.Remote, "-s", "+4989555100",
            "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "talk_ms", "100", "-trace_msg", "-message_file", stranger, "-timeout", "3s"))
            Assert.NotEqual(0, (await other.ExitAsync()).Code);
        Assert.Contains("SIP/2.0 407", File.ReadAllText(stranger), StringComparison.Ordinal);
    }
}

/// <summary>Forwarding, DND and Redirect with trunks: inbound calls honour them; forwarding out is governed by the policy.</summary>
public sealed class TrunkForwardingTests
{
    [Fact]
    public async Task An_inbound_call_to_a_did_honours_dnd_and_forwarding()
    {
        await using var f = new TrunkFixture();
        await f.Switch.ForwardAsync("100", ForwardingSetting.Dnd);
        using (var busy = Sipp.Start("provider_call_in_fail.xml", f.UpstreamPort, f.Remote, "-s", "+4989555100",
            "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "expect", "486"))
        {
            var (code, output) = await busy.ExitAsync();
            Assert.True(code == 0, output);
        }
        await f.Switch.ForwardAsync("100", ForwardingSetting.To("102"));
        int phonePort = Ports.FreeUdp();
        using var phone = Sipp.Start("builtin:uas", phonePort, null);
        await f.RegisterPhoneAsync("102", phonePort);
        using var events = f.Model.Events.Subscribe("102");
        using var provider = Sipp.Start("provider_call_in.xml", f.UpstreamPort, f.Remote, "-s", "+4989555100",
            "-key", "to", "+4989555100", "-key", "caller", "030123456", "-key", "talk_ms", "200");
        var (c2, o2) = await provider.ExitAsync();
        Assert.True(c2 == 0, o2);
        Assert.Equal(0, (await phone.ExitAsync()).Code);
        var seen = new List<CallEvent>();
        while (events.Reader.TryRead(out var e)) seen.Add(e);
        Assert.Contains(seen, e => e.Type == CallEventType.Delivered && e.Calling == "+4930123456" && e.Cause == "forwarded from 100");
    }

    [Fact]
    public async Task A_phone_forwarded_to_an_outside_number_sends_its_calls_out_through_the_trunk_presenting_its_own_did()
    {
        await using var f = new TrunkFixture();
        var messages = Path.Combine(f.Dir, "provider.log");
        using var provider = Sipp.Start("provider_auth.xml", f.UpstreamPort, null, "-trace_msg", "-message_file", messages);
        var set = await f.Switch.ForwardAsync("101", ForwardingSetting.To("+49891234567"));
        Assert.True(set.IsSuccess, set.Message);
        using var caller = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "talk_ms", "200");
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "phone: " + output);
        Assert.Equal(0, (await provider.ExitAsync()).Code);
        var text = File.ReadAllText(messages);
        Assert.Contains("INVITE sip:+49891234567@127.0.0.1:", text, StringComparison.Ordinal);
        Assert.Contains("P-Asserted-Identity: <sip:+4989555101@127.0.0.1>", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forwarding_to_a_blocked_number_is_refused_when_the_call_comes()
    {
        // Forwarding set while the number was allowed (or before the rules changed) is checked again at call time.
        var options = new OutsideCallOptions();
        await using var f = new TrunkFixture(policy: options);
        Assert.True((await f.Switch.ForwardAsync("101", ForwardingSetting.To("+49891234567"))).IsSuccess);
        options.DeniedPrefixes.Add("089");
        using var caller = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "403");
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Redirect_of_a_ringing_call_to_an_outside_number_goes_out_through_the_trunk()
    {
        await using var f = new TrunkFixture();
        var messages = Path.Combine(f.Dir, "provider.log");
        using var provider = Sipp.Start("provider_auth.xml", f.UpstreamPort, null, "-trace_msg", "-message_file", messages);
        int ringPort = Ports.FreeUdp();
        using var ringing = Sipp.Start("uas_ring_cancel.xml", ringPort, null);
        await f.RegisterPhoneAsync("101", ringPort);
        using var caller = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "talk_ms", "200");
        await f.WaitForAsync(() => f.Model.FirstInState("101", ConnectionState.Alerting) is not null, "101 to ring");
        var r = await f.Switch.RedirectAsync("101", "+49891234567");
        Assert.True(r.IsSuccess, r.Message);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "phone: " + output);
        Assert.Equal(0, (await ringing.ExitAsync()).Code);
        Assert.Equal(0, (await provider.ExitAsync()).Code);
        Assert.Contains("INVITE sip:+49891234567@127.0.0.1:", File.ReadAllText(messages), StringComparison.Ordinal);
    }
}

/// <summary>A DID that rings a group of extensions at once.</summary>
public sealed class TrunkGroupTests
{
    [Fact]
    public async Task A_group_did_rings_every_member_the_first_to_answer_gets_the_call_and_the_others_are_cancelled()
    {
        await using var f = new TrunkFixture(t => t.Dids["+4989555200"] = "100,101");
        int ringPort = Ports.FreeUdp(), answerPort = Ports.FreeUdp();
        using var ringing = Sipp.Start("uas_ring_cancel.xml", ringPort, null);
        using var answering = Sipp.Start("builtin:uas", answerPort, null);
        await f.RegisterPhoneAsync("100", ringPort);
        await f.RegisterPhoneAsync("101", answerPort);
        using var provider = Sipp.Start("provider_call_in.xml", f.UpstreamPort, f.Remote, "-s", "+4989555200",
            "-key", "to", "+4989555200", "-key", "caller", "030123456", "-key", "talk_ms", "300");
        var (code, output) = await provider.ExitAsync();
        Assert.True(code == 0, "provider: " + output);
        Assert.Equal(0, (await answering.ExitAsync()).Code);
        var (ringCode, ringOut) = await ringing.ExitAsync();
        Assert.True(ringCode == 0, "the member that only rang must have been cancelled: " + ringOut);
        await f.WaitForAsync(() => f.Journal.Recent(5).Any(j => j.Ended is not null), "the journal row to be closed");
        var row = Assert.Single(f.Journal.Recent(5));
        Assert.Equal(("+4930123456", "101"), (row.Calling, row.AnsweredBy));
    }

    [Fact]
    public async Task A_group_whose_members_all_have_dnd_gives_480()
    {
        await using var f = new TrunkFixture(t => t.Dids["+4989555200"] = "100,101");
        await f.Switch.ForwardAsync("100", ForwardingSetting.Dnd);
        await f.Switch.ForwardAsync("101", ForwardingSetting.Dnd);
        using var provider = Sipp.Start("provider_call_in_fail.xml", f.UpstreamPort, f.Remote, "-s", "+4989555200",
            "-key", "to", "+4989555200", "-key", "caller", "030123456", "-key", "expect", "480");
        var (code, output) = await provider.ExitAsync();
        Assert.True(code == 0, output);
    }
}
