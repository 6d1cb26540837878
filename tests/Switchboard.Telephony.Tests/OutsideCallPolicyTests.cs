using Switchboard.Telephony;

namespace Switchboard.Telephony.Tests;

public class OutsideCallPolicyTests
{
    [Theory]
    [InlineData("0891234567", null)]
    [InlineData("+49891234567", null)]
    [InlineData("0049891234567", null)]
    [InlineData("+441234567890", "prefix 00")]
    [InlineData("00441234567890", "prefix 00")]
    [InlineData("09001234567", "prefix 0900")]
    [InlineData("+499001234567", "prefix 0900")]
    [InlineData("11833", "prefix 118")]
    public void Default_rules_block_international_and_premium_rate_numbers(string number, string? rule)
    {
        var policy = new OutsideCallPolicy(new OutsideCallOptions());
        var refusal = policy.Check("100", number);
        if (rule is null) Assert.Null(refusal);
        else Assert.Contains(rule, refusal);
    }

    [Fact]
    public void A_longer_allowed_prefix_beats_a_shorter_denied_one()
    {
        var policy = new OutsideCallPolicy(new OutsideCallOptions { AllowedPrefixes = ["0043"] });
        Assert.Null(policy.Check("100", "+43 1 234567".Replace(" ", "", StringComparison.Ordinal)));
        Assert.NotNull(policy.Check("100", "+441234567"));
    }

    [Fact]
    public void Devices_not_allowed_and_the_rate_limit_are_refused_with_their_rule()
    {
        var policy = new OutsideCallPolicy(new OutsideCallOptions { AllowedDevices = ["100"], MaxCallsPerDevicePerMinute = 2 });
        Assert.Contains("AllowedDevices", policy.Check("101", "0891234567"));
        Assert.Null(policy.Check("100", "0891234567"));
        Assert.Null(policy.Check("100", "0891234567"));
        Assert.Contains("MaxCallsPerDevicePerMinute", policy.Check("100", "0891234567"));
    }
}

public class OutsideCallNormalisationTests
{
    [Theory]
    [InlineData("0-0-1-900-555-1234", "prefix 00")]
    [InlineData("0-900-1234567", "prefix 0900")]
    [InlineData("+49-900-123456", "prefix 0900")]
    [InlineData("0.0.4.4.2.0.7.9.4.6.0.0.0.0", "prefix 00")]
    [InlineData("(0900) 123/456", "prefix 0900")]
    [InlineData("0%2D900%2D1234567", "prefix 0900")]
    [InlineData("%30%30%31900555", "prefix 00")]
    [InlineData("+49 (0)900 123456", "prefix 0900")]
    public void Separators_and_escapes_do_not_hide_a_denied_prefix(string number, string rule)
    {
        var policy = new OutsideCallPolicy(new OutsideCallOptions());
        Assert.Contains(rule, policy.Check("100", number));
    }

    [Theory]
    [InlineData("0900abc")]
    [InlineData("*31#0891234567")]
    [InlineData("089%ZZ1234")]
    [InlineData("089;postd=1234")]
    [InlineData("08912+34567")]
    [InlineData("")]
    public void What_is_not_a_dialable_number_is_refused_not_passed_on(string number)
    {
        var policy = new OutsideCallPolicy(new OutsideCallOptions { DeniedPrefixes = [] });
        Assert.Contains("not a dialable outside number", policy.Check("100", number));
    }

    [Fact]
    public void Refused_attempts_count_against_the_rate_limit()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var policy = new OutsideCallPolicy(new OutsideCallOptions { MaxCallsPerDevicePerMinute = 3 }, time);
        for (int i = 0; i < 3; i++) Assert.Contains("DeniedPrefixes", policy.Check("100", "0900123456" + i));
        Assert.Contains("MaxCallsPerDevicePerMinute", policy.Check("100", "0891234567"));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Null(policy.Check("100", "0891234567"));
    }

    [Theory]
    [InlineData("+49 (89) 123-4567", "+49891234567")]
    [InlineData("089/1234567", "0891234567")]
    [InlineData("0%2D89%2E123", "089123")]
    public void The_uri_user_normaliser_agrees_with_the_command_one(string text, string expected)
    {
        Assert.True(DialString.TryNormalizeUriUser(text, out var n, out _, out _));
        Assert.Equal(expected, n);
    }
}
