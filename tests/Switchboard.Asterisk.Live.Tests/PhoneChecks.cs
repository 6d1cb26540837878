using Switchboard.Testing.Phones;

namespace Switchboard.Asterisk.Live.Tests;

/// <summary>What a phone was told and what it heard, read from baresip's SIP trace and recordings.</summary>
public static class PhoneChecks
{
    /// <summary>The From header of the newest INVITE the phone received (who its display shows as calling).</summary>
    public static string LastInviteFrom(this Baresip phone)
    {
        var log = phone.LogTail(4000).Split('\n');
        string? from = null;
        for (int i = 0; i < log.Length; i++)
        {
            if (!log[i].TrimStart().StartsWith("INVITE sip:", StringComparison.Ordinal)) continue;
            for (int j = i + 1; j < log.Length && j < i + 30 && log[j].Trim().Length > 0; j++)
            {
                var line = log[j].Trim();
                if (line.StartsWith("From:", StringComparison.OrdinalIgnoreCase) || line.StartsWith("f:", StringComparison.Ordinal))
                {
                    from = line;
                    break;
                }
            }
        }
        return from ?? throw new Xunit.Sdk.XunitException($"{phone.Name} received no INVITE:\n{phone.LogTail()}");
    }

    /// <summary>Waits for a call at the phone and answers it.</summary>
    public static async Task AnswerAsync(this Baresip phone)
    {
        await phone.WaitEventAsync("CALL_INCOMING");
        await phone.CommandAsync("accept");
        await phone.WaitEventAsync("CALL_ESTABLISHED");
    }

    /// <summary>Asserts that the phone's newest recording (since ForgetRecordings) is the tone of <paramref name="expected"/> Hz.</summary>
    public static void AssertHeard(this Baresip phone, double expected)
    {
        var heard = phone.LastReceived() ?? throw new Xunit.Sdk.XunitException($"{phone.Name} recorded nothing ({phone.RecordingList()})");
        Assert.True(heard.Rms > 100 && Math.Abs(heard.Frequency - expected) <= 20, $"{phone.Name} heard {heard}, expected {expected} Hz");
    }
}
