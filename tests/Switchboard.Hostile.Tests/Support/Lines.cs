namespace Switchboard.Hostile.Tests.Support;

/// <summary>How the IP interface cuts input into command lines, so a test knows how many replies it is owed.</summary>
internal static class Lines
{
    /// <summary>Command lines in a TCP stream or datagram: split at CR or LF, lines of only spaces and tabs skipped.</summary>
    public static int Count(string text)
    {
        int n = 0;
        foreach (var part in text.Split('\r', '\n'))
            if (part.AsSpan().Trim(" \t").Length > 0) n++;
        return n;
    }
}
