namespace Switchboard.Telephony;

/// <summary>Outcome codes shared by every front end; they map 1:1 onto HTTP status codes (DESIGN.md §1).</summary>
public enum ReplyCode
{
    /// <summary>Accepted: the phone system carries the command out; the outcome arrives as events.</summary>
    Ok = 200,
    /// <summary>Malformed: unknown verb, missing or extra argument, unusable number.</summary>
    BadRequest = 400,
    /// <summary>Client or destination refused by policy.</summary>
    Forbidden = 403,
    /// <summary>Unknown device, or NNNNN without a mapping for the client's address.</summary>
    NotFound = 404,
    /// <summary>The device is not in a state that allows the command.</summary>
    WrongState = 409,
    /// <summary>The device is known but no phone is reachable.</summary>
    Unreachable = 480,
    /// <summary>Internal failure; logged with detail.</summary>
    InternalError = 500,
    /// <summary>The device or phone system cannot do this.</summary>
    NotImplemented = 501,
    /// <summary>The phone system is unavailable.</summary>
    Unavailable = 503,
}

/// <summary>The result of one call-control request: a reply code and text for people.</summary>
public readonly record struct CallControlResult(ReplyCode Code, string Message)
{
    /// <summary>True for <see cref="ReplyCode.Ok"/>.</summary>
    public bool IsSuccess => Code == ReplyCode.Ok;

    /// <summary>Accepted, with text.</summary>
    public static CallControlResult Ok(string message) => new(ReplyCode.Ok, message);

    /// <summary>A failure with the given code and text.</summary>
    public static CallControlResult Fail(ReplyCode code, string message) => new(code, message);

    /// <summary>The reply line as written on the wire: code, space, text.</summary>
    public override string ToString() => $"{(int)Code} {Message}";
}
