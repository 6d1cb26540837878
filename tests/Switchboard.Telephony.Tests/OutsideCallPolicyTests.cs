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
