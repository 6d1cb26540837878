namespace Switchboard.Telephony;

/// <summary>What a dialled number means to a phone system.</summary>
public enum NumberKind
{
    /// <summary>One of the phone system's devices.</summary>
    Device,
    /// <summary>Short enough to be an extension, but no such device exists.</summary>
    UnknownExtension,
    /// <summary>A number outside the phone system.</summary>
    Outside,
}

/// <summary>Tells extensions from outside numbers: anything not a device with fewer than MinOutsideDigits digits is an unknown extension.</summary>
public sealed class DialPlan(int minOutsideDigits = 5)
{
    /// <summary>Numbers with at least this many digits (or a leading '+') that are not devices are outside numbers.</summary>
    public int MinOutsideDigits { get; } = minOutsideDigits;

    /// <summary>Classifies a normalised number.</summary>
    public NumberKind Classify(string number, Func<string, bool> isDevice)
    {
        if (isDevice(number)) return NumberKind.Device;
        if (number.StartsWith('+') || number.Length >= MinOutsideDigits) return NumberKind.Outside;
        return NumberKind.UnknownExtension;
    }
}
