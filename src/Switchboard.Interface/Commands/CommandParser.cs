namespace Switchboard.Interface.Commands;

/// <summary>
/// Parses one command line: <c>Verb arg…</c>, arguments separated by spaces or tabs, verb case-insensitive. Everything
/// after the device of MakeCall, Redirect and Forward is one number, so formatted numbers with spaces work.
/// </summary>
public static class CommandParser
{
    private static readonly (string Name, CommandVerb Verb)[] Verbs =
    [
        ("MakeCall", CommandVerb.MakeCall), ("Answer", CommandVerb.Answer), ("Drop", CommandVerb.Drop),
        ("Redirect", CommandVerb.Redirect), ("Toggle", CommandVerb.Toggle), ("Transfer", CommandVerb.Transfer),
        ("Conference", CommandVerb.Conference), ("Pickup", CommandVerb.Pickup), ("Forward", CommandVerb.Forward),
        ("Status", CommandVerb.Status), ("Monitor", CommandVerb.Monitor),
        ("Hold", CommandVerb.Hold), ("Retrieve", CommandVerb.Retrieve), ("Dtmf", CommandVerb.Dtmf),
    ];

    /// <summary>The most digits one Dtmf command sends (the media engine queues as many per phone).</summary>
    public const int MaxDtmfDigits = 32;

    /// <summary>The usage line of each verb, for error replies.</summary>
    public static string Usage(CommandVerb verb) => verb switch
    {
        CommandVerb.MakeCall => "MakeCall <device> <number>",
        CommandVerb.Redirect => "Redirect <device> <target>",
        CommandVerb.Pickup => "Pickup <device> <other device>",
        CommandVerb.Forward => "Forward <device> [<target>|*]",
        CommandVerb.Monitor => "Monitor <device>|* [<last sequence>]",
        CommandVerb.Dtmf => "Dtmf <device> <digits 0-9 * # A-D>",
        _ => $"{verb} <device>",
    };

    /// <summary>Parses a line (without line end). On failure, <paramref name="error"/> is the reply text.</summary>
    public static bool TryParse(ReadOnlySpan<char> line, out Command? command, out string error)
    {
        command = null;
        foreach (var c in line)
        {
            if (c is < ' ' and not '\t' or > '~')
            {
                error = $"unreadable byte {NumberFormat.Printable(c)} in command (commands are plain ASCII text)";
                return false;
            }
        }
        var rest = line.Trim(" \t");
        var verbText = NextToken(ref rest);
        CommandVerb? verb = null;
        foreach (var (name, v) in Verbs)
        {
            if (verbText.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                verb = v;
                break;
            }
        }
        if (verb is not { } vb)
        {
            error = $"unknown command '{Shorten(verbText)}' (commands: MakeCall Answer Drop Redirect Toggle Transfer Conference Pickup Forward Status Monitor Hold Retrieve Dtmf)";
            return false;
        }
        var name1 = Verbs[(int)vb].Name;
        var deviceText = NextToken(ref rest);
        if (deviceText.IsEmpty)
        {
            error = $"{name1}: missing device ({Usage(vb)})";
            return false;
        }
        string device;
        if (deviceText.SequenceEqual(Command.OwnExtensionPlaceholder)) device = Command.OwnExtensionPlaceholder;
        else if (vb == CommandVerb.Monitor && deviceText.SequenceEqual("*")) device = "*";
        else if (NumberFormat.IsExtension(deviceText)) device = deviceText.ToString();
        else
        {
            error = $"{name1}: '{Shorten(deviceText)}' is not an extension number ({Usage(vb)})";
            return false;
        }

        string? argument = null;
        switch (vb)
        {
            case CommandVerb.MakeCall:
            case CommandVerb.Redirect:
                if (rest.IsEmpty)
                {
                    error = $"{name1} {device}: missing {(vb == CommandVerb.MakeCall ? "number" : "target")} ({Usage(vb)})";
                    return false;
                }
                if (!TryNumber(rest, out argument, out error))
                {
                    error = $"{name1} {device}: {error}";
                    return false;
                }
                rest = default;
                break;
            case CommandVerb.Forward:
                if (rest.SequenceEqual("*")) argument = "*";
                else if (!rest.IsEmpty && !TryNumber(rest, out argument, out error))
                {
                    error = $"{name1} {device}: {error}";
                    return false;
                }
                rest = default;
                break;
            case CommandVerb.Pickup:
                var other = NextToken(ref rest);
                if (other.IsEmpty)
                {
                    error = $"{name1} {device}: missing the device to pick up from ({Usage(vb)})";
                    return false;
                }
                if (!other.SequenceEqual(Command.OwnExtensionPlaceholder) && !NumberFormat.IsExtension(other))
                {
                    error = $"{name1} {device}: '{Shorten(other)}' is not an extension number ({Usage(vb)})";
                    return false;
                }
                argument = other.ToString();
                break;
            case CommandVerb.Dtmf:
                var digits = NextToken(ref rest);
                if (digits.IsEmpty)
                {
                    error = $"{name1} {device}: missing digits ({Usage(vb)})";
                    return false;
                }
                if (digits.Length > MaxDtmfDigits)
                {
                    error = $"{name1} {device}: at most {MaxDtmfDigits} digits at once ({Usage(vb)})";
                    return false;
                }
                foreach (var d in digits)
                {
                    if (!(char.IsAsciiDigit(d) || d is '*' or '#' || char.ToUpperInvariant(d) is >= 'A' and <= 'D'))
                    {
                        error = $"{name1} {device}: '{Shorten(digits)}' is not a DTMF digit string ({Usage(vb)})";
                        return false;
                    }
                }
                argument = digits.ToString().ToUpperInvariant();
                break;
            case CommandVerb.Monitor:
                var seq = NextToken(ref rest);
                if (!seq.IsEmpty)
                {
                    if (!long.TryParse(seq, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s))
                    {
                        error = $"{name1} {device}: '{Shorten(seq)}' is not a sequence number ({Usage(vb)})";
                        return false;
                    }
                    argument = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                break;
        }
        if (!rest.IsEmpty)
        {
            error = $"{name1} {device}: unexpected extra argument '{Shorten(rest)}' ({Usage(vb)})";
            return false;
        }
        command = new Command(vb, device, argument);
        error = "";
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<char> text, out string? number, out string error)
    {
        if (text.SequenceEqual(Command.OwnExtensionPlaceholder))
        {
            number = Command.OwnExtensionPlaceholder;
            error = "";
            return true;
        }
        var ok = NumberFormat.TryNormalize(text, out var n, out error);
        number = ok ? n : null;
        return ok;
    }

    private static ReadOnlySpan<char> NextToken(ref ReadOnlySpan<char> rest)
    {
        int end = rest.IndexOfAny(' ', '\t');
        ReadOnlySpan<char> token;
        if (end < 0)
        {
            token = rest;
            rest = default;
        }
        else
        {
            token = rest[..end];
            rest = rest[end..].TrimStart(" \t");
        }
        return token;
    }

    // Arguments may hold tabs (they separate only the leading tokens); a tab echoed raw would make a reply line
    // carry a control character, so everything echoed is shown printable.
    private static string Shorten(ReadOnlySpan<char> text)
    {
        var cut = text.Length <= 40 ? text : text[..40];
        var sb = new System.Text.StringBuilder(cut.Length + 8);
        foreach (var c in cut) sb.Append(NumberFormat.Printable(c));
        return text.Length <= 40 ? sb.ToString() : sb.Append("...").ToString();
    }
}
