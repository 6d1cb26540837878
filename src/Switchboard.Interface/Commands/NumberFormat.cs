using Switchboard.Telephony;

namespace Switchboard.Interface.Commands;

/// <summary>
/// Turns numbers as people and CRMs write them (<c>+49 (89) 123-4567</c>, <c>089/1234567</c>, <c>+49 (0)89 12345</c>)
/// into dial strings: digits, '*' and '#', with a leading '+' kept as the international prefix. The rules are those of
/// <see cref="DialString"/>, which the phone system applies to what phones and trunks dial, so a command and a keypad
/// see the same number.
/// </summary>
public static class NumberFormat
{
    /// <summary>Longest dial string accepted (E.164 allows 15 digits; room for prefixes and codes).</summary>
    public const int MaxDigits = DialString.MaxDigits;

    /// <summary>Normalises a number; on failure returns false with a reason for the reply.</summary>
    public static bool TryNormalize(ReadOnlySpan<char> text, out string number, out string error) =>
        DialString.TryNormalize(text, out number, out _, out error);

    /// <summary>True for a device (extension) argument: 1–16 digits.</summary>
    public static bool IsExtension(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > 16) return false;
        foreach (var c in text) if (c is < '0' or > '9') return false;
        return true;
    }

    internal static string Printable(char c) => DialString.Printable(c);
}
