namespace Switchboard.Accounts;

/// <summary>What a signed-in user or an API token may do on the web port.</summary>
public enum AccountRole
{
    /// <summary>Own extensions only: sees and controls the devices listed for the account.</summary>
    User,
    /// <summary>All devices: sees and controls every extension, the journal and the registrations.</summary>
    Operator,
    /// <summary>Everything an operator may, and accounts and tokens.</summary>
    Admin,
}

/// <summary>An account (or the account an API token acts for) as the web port sees it.</summary>
public sealed record Account(string Name, AccountRole Role, IReadOnlyList<string> Extensions)
{
    /// <summary>True when the account may see and control <paramref name="device"/>.</summary>
    public bool MayUse(string device) => Role != AccountRole.User || Extensions.Contains(device, StringComparer.Ordinal);
}

/// <summary>One API token as listed (the secret itself is never stored, only its SHA-256).</summary>
public sealed record ApiTokenInfo(long Id, string Label, string Owner, AccountRole Role, DateTimeOffset Created, DateTimeOffset? LastUsed);

/// <summary>Why an account operation was refused.</summary>
public enum AccountError
{
    /// <summary>Done.</summary>
    None,
    /// <summary>The name is empty, too long or has characters outside letters, digits, '.', '_' and '-'.</summary>
    BadName,
    /// <summary>The password is shorter than the minimum or longer than the maximum.</summary>
    BadPassword,
    /// <summary>An extension is not digits.</summary>
    BadExtension,
    /// <summary>The account exists already.</summary>
    Exists,
    /// <summary>No such account.</summary>
    NotFound,
    /// <summary>A token may not have more rights than the account it is made for.</summary>
    RoleAboveOwner,
}
