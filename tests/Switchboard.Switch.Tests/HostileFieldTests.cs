using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Switchboard.Sip.Auth;
using Switchboard.Sip.Messages;
using Switchboard.Testing.Phones;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>
/// The hostile-field findings on the SIP side, on real sockets: captured digest answers played again (from another
/// address, from the same one, on another Request-URI, REGISTER with an attacker's Contact or <c>Contact: *</c>),
/// toll-fraud numbers with separators dialled on a phone, and password guessing through sipp.
/// </summary>
public sealed class HostileFieldTests
{
    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static async Task<(SipRequest Authorised, SipResponse Final)> AuthorisedAsync(RawPhone phone, SipRequest first, string user, string password,
        Func<SipRequest> again)
    {
        var challenge = await phone.ExchangeAsync(first);
        Assert.True(challenge.StatusCode is 401 or 407, $"expected a challenge, got {challenge.StatusCode} {challenge.Reason}");
        var second = again();
        Assert.True(DigestClient.Answer(challenge, second, user, password));
        return (second, await phone.ExchangeAsync(second));
    }

    /// <summary>The same request bytes with a new Via branch (a new transaction, as an attacker replays it), optionally edited.</summary>
    private static SipRequest Replay(SipRequest captured, RawPhone from, Action<SipRequest>? edit = null)
    {
        var copy = new SipRequest(captured.Method, captured.Uri) { Body = captured.Body };
        foreach (var h in captured.Headers) copy.Add(h.Name, h.Value);
        copy.Set(SipHeaderNames.Via, $"SIP/2.0/UDP {from.Local};branch=z9hG4bK{Guid.NewGuid():N};rport");
        edit?.Invoke(copy);
        return copy;
    }

    private static SipRequest Register(RawPhone phone, string callId, int cseq, string? contact)
    {
        var r = phone.Request("REGISTER", $"sip:{phone.Server}", "100", "100", callId, cseq);
        if (contact is not null) r.Add(SipHeaderNames.Contact, contact);
        r.Add(SipHeaderNames.Expires, "300");
        return r;
    }

    [Fact]
    public async Task A_replayed_register_from_anywhere_is_challenged_and_the_binding_stays_as_the_phone_made_it()
    {
        await using var f = new SwitchFixture();
        using var phone = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port));
        using var attacker = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port));
        var mine = $"<sip:100@127.0.0.1:{P(phone.Local.Port)}>";
        var (captured, ok) = await AuthorisedAsync(phone, Register(phone, "reg-1", 1, mine), "100", "pw100", () => Register(phone, "reg-1", 2, mine));
        Assert.Equal(200, ok.StatusCode);

        var hijack = Replay(captured, attacker, r => r.Set(SipHeaderNames.Contact, "<sip:100@127.0.0.2:40666>"));
        Assert.Equal(401, (await attacker.ExchangeAsync(hijack)).StatusCode);
        var sameNat = Replay(captured, phone, r => r.Set(SipHeaderNames.Contact, "<sip:100@127.0.0.1:40666>"));
        Assert.Equal(401, (await phone.ExchangeAsync(sameNat)).StatusCode);
        var wipe = Replay(captured, attacker, r =>
        {
            r.Set(SipHeaderNames.Contact, "*");
            r.Set(SipHeaderNames.Expires, "0");
        });
        Assert.Equal(401, (await attacker.ExchangeAsync(wipe)).StatusCode);

        // What the registrar holds, as its 200 to a fetch (REGISTER without Contact) lists it: only the phone's own contact.
        var (_, fetched) = await AuthorisedAsync(phone, Register(phone, "reg-1", 3, null), "100", "pw100", () => Register(phone, "reg-1", 4, null));
        Assert.Equal(200, fetched.StatusCode);
        var contacts = fetched.All(SipHeaderNames.Contact).Select(c => NameAddress.Parse(c).Uri).ToList();
        Assert.Equal([$"sip:100@127.0.0.1:{P(phone.Local.Port)}"], contacts);
    }

    [Fact]
    public async Task A_captured_invite_answer_is_useless_from_another_address_again_from_the_same_one_and_on_another_number()
    {
        await using var f = new SwitchFixture();
        using var phone = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port));
        using var attacker = RawPhone.OnLoopback("127.0.0.2", "100", "pw100", new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port));
        SipRequest Invite(int cseq) => phone.Request("INVITE", $"sip:101@{phone.Server}", "100", "101", "inv-1", cseq);
        var (captured, final) = await AuthorisedAsync(phone, Invite(1), "100", "pw100", () => Invite(2));
        // Authenticated: 101 has no phone registered, so the caller hears 480 (not 407/403).
        Assert.Equal(480, final.StatusCode);

        var fromElsewhere = await attacker.ExchangeAsync(Replay(captured, attacker, r => r.Set(SipHeaderNames.CallId, "inv-2")));
        Assert.Equal(407, fromElsewhere.StatusCode);
        Assert.Contains("stale=true", fromElsewhere[SipHeaderNames.ProxyAuthenticate], StringComparison.Ordinal);
        Assert.Equal(407, (await phone.ExchangeAsync(Replay(captured, phone, r => r.Set(SipHeaderNames.CallId, "inv-3")))).StatusCode);
        var moved = await phone.ExchangeAsync(Replay(captured, phone, r =>
        {
            r.Uri = $"sip:102@{phone.Server}";
            r.Set(SipHeaderNames.CallId, "inv-4");
        }));
        Assert.Equal(400, moved.StatusCode);
    }

    [Theory]
    [InlineData("0-0-1-900-555-1234", "+19005551234 is blocked by OutsideCalls:DeniedPrefixes (prefix 00)")]
    [InlineData("0-900-1234567", "+499001234567 is blocked by OutsideCalls:DeniedPrefixes (prefix 0900)")]
    [InlineData("+49-900-123456", "+49900123456 is blocked by OutsideCalls:DeniedPrefixes (prefix 0900)")]
    [InlineData("0.0.4.4.2.0.7.9.4.6.0.0.0.0", "+442079460000 is blocked by OutsideCalls:DeniedPrefixes (prefix 00)")]
    [InlineData("0%2D900%2D1234567", "+499001234567 is blocked by OutsideCalls:DeniedPrefixes (prefix 0900)")]
    public async Task A_denied_number_written_with_separators_gets_403_with_the_rule_and_the_provider_receives_nothing(string dialled, string rule)
    {
        await using var f = new TrunkFixture();
        var providerLog = Path.Combine(f.Dir, "provider.log");
        using var provider = Sipp.Start("builtin:uas", f.UpstreamPort, null, "-trace_msg", "-message_file", providerLog);
        var phoneLog = Path.Combine(f.Dir, "phone.log");
        using var caller = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", dialled, "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "403", "-trace_msg", "-message_file", phoneLog);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, output);
        Assert.Contains($"SIP/2.0 403 Forbidden ({rule})", File.ReadAllText(phoneLog), StringComparison.Ordinal);

        // The provider is alive and reachable: an allowed number dialled the same way arrives, and it is the only INVITE it ever saw.
        using var good = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "0-89-123-4567", "-au", "101", "-ap", "pw101",
            "-key", "caller", "101", "-key", "talk_ms", "200");
        var (goodCode, goodOutput) = await good.ExitAsync();
        Assert.True(goodCode == 0, goodOutput);
        Assert.Equal(0, (await provider.ExitAsync()).Code);
        var invites = File.ReadAllText(providerLog).Split('\n').Where(l => l.StartsWith("INVITE sip:", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"INVITE sip:+49891234567@127.0.0.1:{P(f.UpstreamPort)} SIP/2.0\r"], invites);
    }

    [Fact]
    public async Task A_guesser_behind_the_office_nat_is_blocked_for_its_user_only_and_every_failure_is_a_security_event()
    {
        var log = new ListLogger();
        await using var f = new SwitchFixture(authFreeFailures: 3, log: log);
        for (int i = 0; i < 4; i++)
        {
            using var guess = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "100", "-au", "100", "-ap", "guess" + P(i),
                "-key", "contact_port", P(Ports.FreeUdp()), "-key", "expect", "403");
            var (code, output) = await guess.ExitAsync();
            Assert.True(code == 0, output);
        }
        // 100 from this address is blocked now, even with its right password ...
        var blockedLog = Path.Combine(Path.GetTempPath(), $"sb-blocked-{Guid.NewGuid():N}.log");
        using (var right = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "100", "-au", "100", "-ap", "pw100",
            "-key", "contact_port", P(Ports.FreeUdp()), "-key", "expect", "403", "-trace_msg", "-message_file", blockedLog))
        {
            var (code, output) = await right.ExitAsync();
            Assert.True(code == 0, output);
        }
        Assert.Matches(@"SIP/2\.0 403 Forbidden \(too many failed attempts; retry in (9|10) s\)", File.ReadAllText(blockedLog));
        File.Delete(blockedLog);
        // ... but another user at the same office address registers.
        using (var colleague = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", P(Ports.FreeUdp()), "-key", "expect", "200"))
        {
            var (code, output) = await colleague.ExitAsync();
            Assert.True(code == 0, output);
        }
        var events = log.Lines.Where(l => l.Text.StartsWith("SecurityEvent=", StringComparison.Ordinal)).ToList();
        var failures = events.Where(e => e.Text.StartsWith("SecurityEvent=InvalidPassword ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, failures.Count);
        Assert.All(failures, e => Assert.Equal(4101, e.EventId));
        Assert.Matches("^SecurityEvent=InvalidPassword Service=SIP Account=\"100\" RemoteAddress=127\\.0\\.0\\.1 RemotePort=\\d+ Transport=udp Detail=\"REGISTER: WrongPassword\"$", failures[0].Text);
        Assert.Single(events, e => e.Text.StartsWith("SecurityEvent=Blocked Service=SIP Account=\"100\" RemoteAddress=127.0.0.1 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_account_name_from_the_network_cannot_forge_a_log_field()
    {
        var log = new ListLogger();
        await using var f = new SwitchFixture(log: log);
        using var phone = RawPhone.OnLoopback("127.0.0.1", "100", "pw100", new IPEndPoint(IPAddress.Loopback, f.Switch.LocalEndPoint.Port));
        var challenge = await phone.ExchangeAsync(Register(phone, "reg-x", 1, "<sip:100@127.0.0.1:5999>"));
        var nonce = DigestHeader.Parse(challenge[SipHeaderNames.WwwAuthenticate]!)!["nonce"];
        var forged = Register(phone, "reg-x", 2, "<sip:100@127.0.0.1:5999>");
        forged.Add(SipHeaderNames.Authorization,
            $"Digest username=\"x\\\" RemoteAddress=10.9.9.9 \", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"{forged.Uri}\", response=\"00\"");
        Assert.Equal(403, (await phone.ExchangeAsync(forged)).StatusCode);
        var line = Assert.Single(log.Lines, l => l.Text.StartsWith("SecurityEvent=InvalidAccount ", StringComparison.Ordinal)).Text;
        Assert.Contains("Account=\"x\\x22 RemoteAddress=10.9.9.9 \" RemoteAddress=127.0.0.1 ", line, StringComparison.Ordinal);
    }
}
