using System.Globalization;
using Switchboard.Telephony;
using Switchboard.Testing;

namespace Switchboard.Switch.Tests;

/// <summary>Conformance of the switch against the real sipp: registration, authentication and the call paths.</summary>
public sealed class SippConformanceTests
{
    private static string P(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static async Task RegisterAsync(SwitchFixture f, string user, string password, int contactPort, string expect = "200")
    {
        using var run = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", user, "-au", user, "-ap", password,
            "-key", "contact_port", P(contactPort), "-key", "expect", expect);
        var (code, output) = await run.ExitAsync();
        Assert.True(code == 0, $"sipp register {user} expecting {expect}: exit {code}\n{output}");
    }

    [Fact]
    public async Task Register_with_the_right_password_binds_the_contact_and_a_wrong_one_is_refused_after_the_challenge()
    {
        await using var f = new SwitchFixture();
        await RegisterAsync(f, "100", "pw100", 40100);
        Assert.True(f.Model.IsReachable("100"));
        await RegisterAsync(f, "101", "wrong", 40101, expect: "403");
        Assert.False(f.Model.IsReachable("101"));
    }

    [Fact]
    public async Task A_password_guesser_is_blocked_after_the_free_failures()
    {
        await using var f = new SwitchFixture(authFreeFailures: 2);
        for (int i = 0; i < 3; i++) await RegisterAsync(f, "101", "guess" + i, 40101, expect: "403");
        // Blocked now: even the right password is refused without a challenge.
        using var run = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", "40101", "-key", "expect", "200");
        var (code, output) = await run.ExitAsync();
        Assert.NotEqual(0, code);
        Assert.False(f.Model.IsReachable("101"));
        _ = output;
    }

    [Fact]
    public async Task Authenticated_call_from_sipp_to_a_registered_sipp_phone_is_answered_and_released()
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("builtin:uas", uasPort, null);
        await RegisterAsync(f, "101", "pw101", uasPort);
        using var uac = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "talk_ms", "500");
        var (code, output) = await uac.ExitAsync();
        Assert.True(code == 0, "caller: " + output);
        var (uasCode, uasOut) = await uas.ExitAsync();
        Assert.True(uasCode == 0, "callee: " + uasOut);
        Assert.Empty(f.Model.Calls);
    }

    [Fact]
    public async Task Busy_callee_gives_486_to_the_caller()
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("uas_busy.xml", uasPort, null);
        await RegisterAsync(f, "101", "pw101", uasPort);
        using var uac = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "486");
        var (code, output) = await uac.ExitAsync();
        Assert.True(code == 0, "caller: " + output);
        Assert.Equal(0, (await uas.ExitAsync()).Code);
        Assert.Empty(f.Model.Calls);
    }

    [Fact]
    public async Task Unregistered_callee_gives_480()
    {
        await using var f = new SwitchFixture();
        using var uac = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "102", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "480");
        var (code, output) = await uac.ExitAsync();
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Callee_that_never_answers_times_out_with_408_on_its_leg_and_480_to_the_caller()
    {
        await using var f = new SwitchFixture();
        int deadPort = Ports.FreeUdp(); // registered, but nothing listens there: Timer B fires after 64*T1
        await RegisterAsync(f, "101", "pw101", deadPort);
        using var events = f.Model.Events.Subscribe("100");
        using var uac = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "480");
        var (code, output) = await uac.ExitAsync();
        Assert.True(code == 0, output);
        // The model is updated right after the caller's 480 goes out; give it a moment.
        var causes = new List<string?>();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (!causes.Any(c => c is not null && c.StartsWith("408", StringComparison.Ordinal)) && await events.Reader.WaitToReadAsync(wait.Token))
            while (events.Reader.TryRead(out var e)) if (e.Type == CallEventType.Failed) causes.Add(e.Cause);
        Assert.Contains(causes, c => c is not null && c.StartsWith("408", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dnd_gives_486_and_forwarding_rings_the_target()
    {
        await using var f = new SwitchFixture();
        await f.Switch.ForwardAsync("101", ForwardingSetting.Dnd);
        using (var uac = Sipp.Start("uac_auth_fail.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "expect", "486"))
        {
            var (code, output) = await uac.ExitAsync();
            Assert.True(code == 0, output);
        }
        await f.Switch.ForwardAsync("101", ForwardingSetting.To("102"));
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("builtin:uas", uasPort, null);
        await RegisterAsync(f, "102", "pw102", uasPort);
        using var call = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "talk_ms", "200");
        var (c2, o2) = await call.ExitAsync();
        Assert.True(c2 == 0, o2);
        Assert.Equal(0, (await uas.ExitAsync()).Code);
    }
}

public sealed class SippCancelTests
{
    private static async Task RunAsync(string uasScenario)
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start(uasScenario, uasPort, null);
        using (var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "101", "-ap", "pw101",
            "-key", "contact_port", uasPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-key", "expect", "200"))
            Assert.Equal(0, (await reg.ExitAsync()).Code);
        using var uac = Sipp.Start("uac_cancel.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100", "-key", "caller", "100",
            "-key", "ring_ms", "1");
        var (code, output) = await uac.ExitAsync();
        var (uasCode, uasOutput) = await uas.ExitAsync(code == 0 ? null : TimeSpan.FromSeconds(1));
        Assert.True(code == 0, "caller: " + output + "\ncallee: " + uasOutput);
        Assert.True(uasCode == 0, "callee: " + uasOutput);
        for (int i = 0; i < 50 && f.Model.Calls.Count > 0; i++) await Task.Delay(50);
        Assert.Empty(f.Model.Calls);
    }

    [Fact]
    public Task Cancel_from_the_caller_cancels_the_ringing_callee() => RunAsync("uas_ring_cancel.xml");

    [Fact]
    public Task A_200_that_crosses_the_cancel_is_acknowledged_and_released_with_bye() => RunAsync("uas_cancel_races_200.xml");
}

/// <summary>Answer over the call-control interface: NOTIFY talk to a phone that offers it, 501 to one that does not.</summary>
public sealed class SippAnswerTests
{
    private static async Task RegisterAsync(SwitchFixture f, string user, int contactPort)
    {
        using var reg = Sipp.Start("register.xml", Ports.FreeUdp(), f.Remote, "-s", user, "-au", user, "-ap", "pw" + user,
            "-key", "contact_port", contactPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-key", "expect", "200");
        Assert.Equal(0, (await reg.ExitAsync()).Code);
    }

    private static async Task WaitRingingAsync(SwitchFixture f, string device, SippRun callee)
    {
        for (int i = 0; i < 200 && f.Model.FirstInState(device, ConnectionState.Alerting) is null; i++) await Task.Delay(25);
        if (f.Model.FirstInState(device, ConnectionState.Alerting) is null)
            Assert.Fail($"{device} never rang; callee: {(await callee.ExitAsync(TimeSpan.FromSeconds(1))).Output}");
    }

    [Fact]
    public async Task Answer_sends_notify_talk_to_a_phone_that_announced_it_and_the_phone_answers()
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("uas_talk.xml", uasPort, null);
        await RegisterAsync(f, "101", uasPort);
        using var uac = Sipp.Start("uac_auth.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100",
            "-key", "caller", "100", "-key", "talk_ms", "500");
        await WaitRingingAsync(f, "101", uas);
        Assert.Equal(AnswerMethod.Talk, f.Switch.AnswerMethodOf("101"));

        var answer = await f.Switch.AnswerAsync("101");
        Assert.True(answer.Code == ReplyCode.Ok, answer.Message);
        var (code, output) = await uac.ExitAsync();
        var (uasCode, uasOut) = await uas.ExitAsync(code == 0 ? null : TimeSpan.FromSeconds(1));
        Assert.True(code == 0, "caller: " + output + "\ncallee: " + uasOut);
        Assert.True(uasCode == 0, "callee: " + uasOut);
    }

    [Fact]
    public async Task Answer_on_a_phone_without_a_remote_answer_method_is_501_and_the_call_keeps_ringing()
    {
        await using var f = new SwitchFixture();
        int uasPort = Ports.FreeUdp();
        using var uas = Sipp.Start("uas_ring_cancel.xml", uasPort, null);
        await RegisterAsync(f, "101", uasPort);
        using var uac = Sipp.Start("uac_cancel.xml", Ports.FreeUdp(), f.Remote, "-s", "101", "-au", "100", "-ap", "pw100", "-key", "caller", "100",
            "-key", "ring_ms", "3000");
        await WaitRingingAsync(f, "101", uas);

        var answer = await f.Switch.AnswerAsync("101");
        Assert.Equal(ReplyCode.NotImplemented, answer.Code);
        Assert.Contains("neither NOTIFY talk nor auto-answer", answer.Message, StringComparison.Ordinal);
        Assert.Equal(ReplyCode.Unreachable, (await f.Switch.AnswerAsync("100")).Code);
        var (code, output) = await uac.ExitAsync();
        Assert.True(code == 0, "caller: " + output);
        Assert.Equal(0, (await uas.ExitAsync()).Code);
    }

    [Fact]
    public async Task MakeCall_rings_a_phone_that_honours_answer_after_and_it_answers_by_itself()
    {
        await using var f = new SwitchFixture();
        int callerPort = Ports.FreeUdp();
        int calleePort = Ports.FreeUdp();
        using var caller = Sipp.Start("uas_autoanswer.xml", callerPort, null);
        using var callee = Sipp.Start("builtin:uas", calleePort, null);
        await RegisterAsync(f, "101", callerPort);
        await RegisterAsync(f, "100", calleePort);

        var made = await f.Switch.MakeCallAsync("101", "100");
        Assert.True(made.Code == ReplyCode.Ok, made.Message);
        for (int i = 0; i < 200 && f.Model.FirstInState("100", ConnectionState.Connected) is null; i++) await Task.Delay(25);
        if (f.Model.FirstInState("101", ConnectionState.Connected) is null)
            Assert.Fail($"the call never connected; caller phone: {(await caller.ExitAsync(TimeSpan.FromSeconds(1))).Output}");
        Assert.Equal(ReplyCode.Ok, (await f.Switch.DropAsync("101")).Code);
        var (code, output) = await caller.ExitAsync();
        Assert.True(code == 0, "caller phone: " + output);
        Assert.Equal(0, (await callee.ExitAsync()).Code);
    }
}
