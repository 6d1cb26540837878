namespace Switchboard.Interface.Commands;

/// <summary>
/// Turns numbers as people and CRMs write them (<c>+49 (89) 123-4567</c>, <c>089/1234567</c>, <c>+49 (0)89 12345</c>)
/// into dial strings: digits, '*' and '#', with a leading '+' kept as the international prefix.
/// </summary>
public static class NumberFormat
{
    /// <summary>Longest dial string accepted (E.164 allows 15 digits; room for prefixes and codes).</summary>
    public const int MaxDigits = 32;

    /// <summary>Normalises a number; on failure returns false with a reason for the reply.</summary>
    public static bool TryNormalize(ReadOnlySpan<char> text, out string number, out string error)
    {
        number = "";
        text = text.Trim();
        if (text.IsEmpty)
        {
            error = "empty number";
            return false;
        }
        Span<char> buffer = stackalloc char[MaxDigits + 1];
        int n = 0;
        bool plus = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is >= '0' and <= '9' or '*' or '#')
            {
                if (n == MaxDigits)
                {
                    error = $"number too long (max {MaxDigits} digits)";
                    return false;
                }
                buffer[n++] = c;
            }
            else if (c == '+')
            {
                if (n != 0 || plus)
                {
                    error = "'+' is allowed only at the start of a number";
                    return false;
                }
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
                error = $"unusable character '{Printable(c)}' in number";
                return false;
            }
        }
        if (n == 0)
        {
            error = "number has no digits";
            return false;
        }
        number = plus ? "+" + new string(buffer[..n]) : new string(buffer[..n]);
        error = "";
        return true;
    }

    /// <summary>True for a device (extension) argument: 1–16 digits.</summary>
    public static bool IsExtension(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > 16) return false;
        foreach (var c in text) if (c is < '0' or > '9') return false;
        return true;
    }

    internal static string Printable(char c) => c is < ' ' or > '~' ? $"\\x{(int)c:X2}" : c.ToString();
}
