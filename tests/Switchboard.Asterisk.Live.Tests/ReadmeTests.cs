using Microsoft.Extensions.Configuration;
using Switchboard;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>Issue 13 defect 7: the configuration table names every PhoneSystem the server accepts.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void The_PhoneSystem_row_names_every_value_the_server_accepts()
    {
        // The refusal of an unknown value lists the accepted ones ("use 'sip', 'asterisk' or 'simulated'").
        var refusal = Assert.ThrowsAny<Exception>(() => SwitchboardHost.Build([], c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["PhoneSystem"] = "nope" })));
        var accepted = refusal.Message.Split('\'').Where((_, i) => i % 2 == 1 && i > 1).ToList();
        Assert.Contains("asterisk", accepted);

        var row = Readme.Text().Split('\n').Single(l => l.StartsWith("| `PhoneSystem` |", StringComparison.Ordinal));
        Assert.All(accepted, value => Assert.Contains($"`{value}`", row));
    }
}
