namespace Switchboard.Telephony;

/// <summary>Why a text is not a dial string.</summary>
public enum DialStringRejection
{
    /// <summary>It is one.</summary>
    None,
    /// <summary>Nothing but blanks.</summary>
    Empty,
    /// <summary>More than <see cref="DialString.MaxDigits"/> digits, or a raw text longer than <see cref="DialString.MaxInputLength"/>.</summary>
    TooLong,
    /// <summary>A '+' after the first digit, or twice.</summary>
    MisplacedPlus,
    /// <summary>A letter, control character or anything else that is neither a digit nor a separator.</summary>
    UnusableCharacter,
    /// <summary>Only separators.</summary>
    NoDigits,
    /// <summary>A '%' not followed by two hex digits, or an escape of a non-ASCII byte (URI user parts only).</summary>
    BadEscape,
}

/// <summary>
/// The one normaliser for dialled numbers, used for commands (<c>+49 (89) 123-4567</c>, <c>089/1234567</c>) and for
/// what phones and trunks send (a Request-URI user such as <c>0-0-1-900-555-1234</c> or <c>0%2D900…</c>). Policies
/// compare prefixes on its output only, so a separator can never hide a denied prefix.
/// </summary>
public static class DialString
{
    /// <summary>Longest dial string accepted (E.164 allows 15 digits; room for prefixes and codes).</summary>
    public const int MaxDigits = 32;

    /// <summary>Longest raw text looked at; anything longer is refused before it is scanned.</summary>
    public const int MaxInputLength = 256;

    /// <summary>
    /// Digits, '*' and '#', with a leading '+' kept; blanks, <c>( ) - / .</c> removed; <c>+CC (0)…</c> drops the bracketed
    /// trunk zero. False with the reason and a text for a reply otherwise.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<char> text, out string number, out DialStringRejection rejection, out string error)
    {
        number = "";
        if (text.Length > MaxInputLength) return Fail(DialStringRejection.TooLong, $"number too long (max {MaxDigits} digits)", out rejection, out error);
        text = text.Trim();
        if (text.IsEmpty) return Fail(DialStringRejection.Empty, "empty number", out rejection, out error);
        Span<char> buffer = stackalloc char[MaxDigits];
        int n = 0;
        bool plus = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is >= '0' and <= '9' or '*' or '#')
            {
                if (n == MaxDigits) return Fail(DialStringRejection.TooLong, $"number too long (max {MaxDigits} digits)", out rejection, out error);
                buffer[n++] = c;
            }
            else if (c == '+')
            {
                if (n != 0 || plus) return Fail(DialStringRejection.MisplacedPlus, "'+' is allowed only at the start of a number", out rejection, out error);
                plus = true;
            }
            else if (c == '(' && plus && text[i..].StartsWith("(0)"))
            {
                i += 2; // "+49 (0)89": the bracketed trunk zero is not dialled after a country code
            }
            else if (c is ' ' or '\t' or '(' or ')' or '-' or '/' or '.')
            {
                continue;
            }
            else
            {
                return Fail(DialStringRejection.UnusableCharacter, $"unusable character '{Printable(c)}' in number", out rejection, out error);
            }
        }
        if (n == 0) return Fail(DialStringRejection.NoDigits, "number has no digits", out rejection, out error);
        number = plus ? "+" + new string(buffer[..n]) : new string(buffer[..n]);
        rejection = DialStringRejection.None;
        error = "";
        return true;
    }

    /// <summary>
    /// The user part of a sip: URI as a dial string: %XX escapes (RFC 3261 §19.1.2) are undone first, then the same
    /// normalisation as for commands. A user with URI parameters (<c>;phone-context=…</c>, <c>;postd=…</c>) is not a
    /// plain number and is refused: post-dial digits would reach the provider unchecked.
    /// </summary>
    public static bool TryNormalizeUriUser(ReadOnlySpan<char> user, out string number, out DialStringRejection rejection, out string error)
    {
        number = "";
        if (user.Length > MaxInputLength) return Fail(DialStringRejection.TooLong, $"number too long (max {MaxDigits} digits)", out rejection, out error);
        if (user.IndexOf('%') < 0) return TryNormalize(user, out number, out rejection, out error);
        Span<char> decoded = stackalloc char[user.Length];
        int n = 0;
        for (int i = 0; i < user.Length; i++)
        {
            char c = user[i];
            if (c == '%')
            {
                if (i + 2 >= user.Length || HexValue(user[i + 1]) is not { } hi || HexValue(user[i + 2]) is not { } lo)
                    return Fail(DialStringRejection.BadEscape, "broken %-escape in number", out rejection, out error);
                int b = hi * 16 + lo;
                if (b >= 0x80) return Fail(DialStringRejection.BadEscape, "escaped non-ASCII byte in number", out rejection, out error);
                c = (char)b;
                i += 2;
            }
            decoded[n++] = c;
        }
        return TryNormalize(decoded[..n], out number, out rejection, out error);
    }

    /// <summary>
    /// A sip: URI user (or a command's number) as an outside number: normalised as <see cref="TryNormalizeUriUser"/>
    /// does, and then only digits with an optional leading '+' (<see cref="IsOutsideNumber"/>). On refusal
    /// <paramref name="error"/> says why, for a reply or a log line.
    /// </summary>
    public static bool TryNormalizeOutsideNumber(ReadOnlySpan<char> user, out string number, out string error)
    {
        if (!TryNormalizeUriUser(user, out number, out _, out error)) return false;
        if (IsOutsideNumber(number)) return true;
        error = "only digits and a leading '+'";
        return false;
    }

    /// <summary>True for what may leave through a trunk: digits with an optional leading '+' (no '*' or '#' service codes).</summary>
    public static bool IsOutsideNumber(ReadOnlySpan<char> number)
    {
        if (number.StartsWith("+")) number = number[1..];
        if (number.IsEmpty || number.Length > MaxDigits) return false;
        foreach (var c in number) if (c is < '0' or > '9') return false;
        return true;
    }

    /// <summary>A character as it can be shown in a reply or a log line: printable ASCII as is, anything else as \xNN.</summary>
    public static string Printable(char c) => c is < ' ' or > '~' ? $"\\x{(int)c:X2}" : c.ToString();

    private static int? HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => null,
    };

    private static bool Fail(DialStringRejection why, string text, out DialStringRejection rejection, out string error)
    {
        rejection = why;
        error = text;
        return false;
    }
}
