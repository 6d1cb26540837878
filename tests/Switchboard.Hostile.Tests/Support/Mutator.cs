using System.Text;

namespace Switchboard.Hostile.Tests.Support;

/// <summary>
/// Deterministic mutations of valid messages (fixed seed: every run sends the same bytes, so a failure names an input
/// that can be replayed). Each mutation is one of the ways hostile or broken peers were seen to deviate: flipped bits,
/// cut messages, huge or negative numbers, repeated lines, odd encodings, control bytes, NUL, bare CR or LF, overlong
/// lines, deep nesting.
/// </summary>
internal sealed class Mutator(int seed)
{
    private readonly Random _random = new(seed);

    private static readonly byte[] Interesting = [0, 0xFF, 0x7F, 0x80, (byte)'\r', (byte)'\n', (byte)'\t', 0x1B, (byte)':', (byte)' ',
        (byte)';', (byte)',', (byte)'"', (byte)'<', (byte)'>', (byte)'%', (byte)'=', (byte)'*', (byte)'[', (byte)']', (byte)'\\'];

    private static readonly string[] Numbers = ["-1", "0", "4294967295", "4294967296", "2147483648", "-2147483649",
        "99999999999999999999999999", "9223372036854775808", "1e9", "0x10", "+5", "00000000000000000001", "NaN", "", " 5 ", "٣"];

    private static readonly byte[][] Encodings =
    [
        [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xEF, 0xBB, 0xBF], [0xFE, 0xFF],
        [0xFF, 0xFE, 0x00], [0xC3, 0xA4], [0xE2, 0x80, 0xAE], [0xF0, 0x9F, 0x98, 0x80], "%00"u8.ToArray(), "%0D%0A"u8.ToArray(),
        "%ZZ"u8.ToArray(), "%"u8.ToArray(), "%C0%AF"u8.ToArray(), "&#x0;"u8.ToArray(), "\\u0000"u8.ToArray(), "=?utf-8?B?AA==?="u8.ToArray(),
    ];

    private static readonly string[] Nesting = ["(", "<", "\"", "[", "{", ";", ",", "<sip:", "\\\"", "%25", "=", "@", ":"];

    public int Next(int max) => _random.Next(max);

    public bool Chance(int percent) => _random.Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>One to three mutations of <paramref name="valid"/>; never returns the input unchanged by chance alone.</summary>
    public byte[] Mutate(byte[] valid, int maxLength = 70_000)
    {
        var data = new List<byte>(valid);
        int rounds = 1 + _random.Next(3);
        for (int i = 0; i < rounds; i++) MutateOnce(data);
        if (data.Count > maxLength) data.RemoveRange(maxLength, data.Count - maxLength);
        return [.. data];
    }

    public string Mutate(string valid, int maxLength = 70_000) => Encoding.Latin1.GetString(Mutate(Encoding.Latin1.GetBytes(valid), maxLength));

    private void MutateOnce(List<byte> d)
    {
        int pos = d.Count == 0 ? 0 : _random.Next(d.Count + 1);
        switch (_random.Next(16))
        {
            case 0: // bit flips
                for (int n = 1 + _random.Next(8); n > 0 && d.Count > 0; n--)
                {
                    int i = _random.Next(d.Count);
                    d[i] ^= (byte)(1 << _random.Next(8));
                }
                break;
            case 1: // interesting byte overwrites
                if (d.Count > 0) d[_random.Next(d.Count)] = Pick(Interesting);
                break;
            case 2: // truncation
                if (d.Count > 0) d.RemoveRange(pos == d.Count ? d.Count - 1 : pos, d.Count - (pos == d.Count ? d.Count - 1 : pos));
                break;
            case 3: // a number replaced by a huge, negative or malformed one
                ReplaceNumber(d);
                break;
            case 4: // a line repeated (repeated headers)
                RepeatLine(d, 1 + _random.Next(_random.Next(2) == 0 ? 5 : 300));
                break;
            case 5: // odd encodings
                d.InsertRange(pos, Pick(Encodings));
                break;
            case 6: // control bytes
                for (int n = 1 + _random.Next(4); n > 0; n--) d.Insert(Math.Min(pos, d.Count), (byte)_random.Next(32));
                break;
            case 7: // NUL
                d.Insert(pos, 0);
                break;
            case 8: // CR without LF, or LF without CR
                Replace(d, "\r\n"u8, _random.Next(2) == 0 ? "\r"u8 : "\n"u8, all: _random.Next(2) == 0);
                break;
            case 9: // overlong line
                d.InsertRange(pos, Enumerable.Repeat((byte)(_random.Next(2) == 0 ? 'A' : '9'), _random.Next(4) switch { 0 => 1_100, 1 => 9_000, 2 => 66_000, _ => _random.Next(2_000) }));
                break;
            case 10: // deep nesting
                var open = Encoding.ASCII.GetBytes(Pick(Nesting));
                for (int n = 50 + _random.Next(2_000); n > 0; n--) d.InsertRange(Math.Min(pos, d.Count), open);
                break;
            case 11: // a range deleted
                if (d.Count > 1)
                {
                    int len = 1 + _random.Next(Math.Min(64, d.Count - Math.Min(pos, d.Count - 1)));
                    d.RemoveRange(Math.Min(pos, d.Count - 1), Math.Min(len, d.Count - Math.Min(pos, d.Count - 1)));
                }
                break;
            case 12: // a range duplicated in place
                if (d.Count > 1)
                {
                    int start = _random.Next(d.Count), len = 1 + _random.Next(Math.Min(200, d.Count - start));
                    var copy = d.GetRange(start, len);
                    for (int n = 1 + _random.Next(20); n > 0; n--) d.InsertRange(start, copy);
                }
                break;
            case 13: // random bytes
                for (int n = 1 + _random.Next(32); n > 0; n--) d.Insert(Math.Min(pos, d.Count), (byte)_random.Next(256));
                break;
            case 14: // case games and whitespace
                if (d.Count > 0)
                {
                    int i = _random.Next(d.Count);
                    d[i] = d[i] is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' ? (byte)(d[i] ^ 0x20) : (byte)' ';
                }
                d.InsertRange(pos, Encoding.ASCII.GetBytes(Pick(new[] { " ", "\t", "  \t ", "\v", "\f", "\u00a0" })));
                break;
            default: // the whole message twice (pipelining / repeated packets)
                d.AddRange(d.ToArray());
                break;
        }
    }

    private void ReplaceNumber(List<byte> d)
    {
        var starts = new List<int>();
        for (int i = 0; i < d.Count; i++)
            if (d[i] is >= (byte)'0' and <= (byte)'9' && (i == 0 || d[i - 1] is < (byte)'0' or > (byte)'9')) starts.Add(i);
        if (starts.Count == 0)
        {
            d.InsertRange(_random.Next(d.Count + 1), Encoding.ASCII.GetBytes(Pick(Numbers)));
            return;
        }
        int s = Pick(starts), e = s;
        while (e < d.Count && d[e] is >= (byte)'0' and <= (byte)'9') e++;
        d.RemoveRange(s, e - s);
        d.InsertRange(s, Encoding.UTF8.GetBytes(Pick(Numbers)));
    }

    private void RepeatLine(List<byte> d, int times)
    {
        var lines = new List<(int Start, int End)>();
        int start = 0;
        for (int i = 0; i < d.Count; i++)
            if (d[i] == '\n')
            {
                lines.Add((start, i + 1));
                start = i + 1;
            }
        if (lines.Count == 0) return;
        var (s, e) = Pick(lines);
        var line = d.GetRange(s, e - s).ToArray();
        for (int n = 0; n < times; n++) d.InsertRange(e, line);
    }

    private static void Replace(List<byte> d, ReadOnlySpan<byte> from, ReadOnlySpan<byte> to, bool all)
    {
        for (int i = 0; i + from.Length <= d.Count; i++)
        {
            bool match = true;
            for (int k = 0; k < from.Length && match; k++) match = d[i + k] == from[k];
            if (!match) continue;
            d.RemoveRange(i, from.Length);
            d.InsertRange(i, to.ToArray());
            i += to.Length - 1;
            if (!all) return;
        }
    }
}
