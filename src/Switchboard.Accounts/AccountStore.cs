using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Switchboard.Accounts;

/// <summary>
/// Web accounts and API tokens in a SQLite file of their own (NAME-accounts.db beside the main database): password
/// hashes (PBKDF2, <see cref="PasswordHash"/>), never passwords; token secrets only as SHA-256, so a copy of the file
/// signs nobody in. Safe to open from a second process (the ops CLI resetting a password while the server runs).
/// </summary>
public sealed class AccountStore : IDisposable
{
    /// <summary>Shortest password accepted for an account.</summary>
    public const int MinPasswordLength = 10;

    /// <summary>Longest account name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Most extensions listed for one account.</summary>
    public const int MaxExtensions = 256;

    /// <summary>Most API tokens kept in all; a script creating tokens in a loop fills no disk.</summary>
    public const int MaxTokens = 1000;

    /// <summary>The prefix of every token, so a leaked one is recognisable in a log or a repository scan.</summary>
    public const string TokenPrefix = "sbt_";

    /// <summary>The account created on first start.</summary>
    public const string AdminName = "admin";

    private readonly SqliteConnection _db;
    private readonly object _gate = new();

    // Verified against when the name is unknown, so the time of a failed sign-in does not tell which names exist.
    private static readonly Lazy<string> DummyHash = new(() => PasswordHash.Hash(PasswordHash.NewPassword()));

    /// <summary>Opens (creating if needed) the accounts file.</summary>
    public AccountStore(string path, TimeSpan? busyTimeout = null)
    {
        FilePath = Path.GetFullPath(path);
        if (Path.GetDirectoryName(FilePath) is { } dir) Directory.CreateDirectory(dir);
        if (!File.Exists(FilePath) && !OperatingSystem.IsWindows())
        {
            // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the main file's mode.
            using var _ = new FileStream(FilePath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        var cs = new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        _db = new SqliteConnection(cs);
        _db.Open();
        Exec(string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout={(int)(busyTimeout ?? TimeSpan.FromSeconds(5)).TotalMilliseconds}"));
        Exec("PRAGMA journal_mode=WAL");
        Exec("""
            CREATE TABLE IF NOT EXISTS users(
                name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, extensions TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS tokens(
                id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, label TEXT NOT NULL, owner TEXT NOT NULL, role TEXT NOT NULL,
                created TEXT NOT NULL, last_used TEXT);
            """);
    }

    /// <summary>The accounts file.</summary>
    public string FilePath { get; }

    /// <summary>NAME.db → NAME-accounts.db beside it.</summary>
    public static string DefaultPath(string databasePath)
    {
        var full = Path.GetFullPath(databasePath);
        var ext = Path.GetExtension(full);
        return Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileNameWithoutExtension(full) + "-accounts" + (ext.Length > 0 ? ext : ".db"));
    }

    /// <summary>
    /// Creates <see cref="AdminName"/> with a random password when there is no account at all, and returns that password
    /// (to be shown once); null when accounts exist.
    /// </summary>
    public string? EnsureAdmin()
    {
        lock (_gate)
        {
            using var count = _db.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM users";
            if ((long)count.ExecuteScalar()! > 0) return null;
            var password = PasswordHash.NewPassword();
            Insert(AdminName, AccountRole.Admin, [], password);
            return password;
        }
    }

    /// <summary>Creates an account.</summary>
    public AccountError CreateUser(string name, AccountRole role, IReadOnlyList<string> extensions, string password)
    {
        if (!IsValidName(name)) return AccountError.BadName;
        if (!IsValidPassword(password)) return AccountError.BadPassword;
        if (extensions.Count > MaxExtensions || !extensions.All(IsValidExtension)) return AccountError.BadExtension;
        lock (_gate)
        {
            if (FindUser(name) is not null) return AccountError.Exists;
            Insert(name, role, extensions, password);
            return AccountError.None;
        }
    }

    /// <summary>Sets a new password (the CLI's reset, or a user changing their own).</summary>
    public AccountError SetPassword(string name, string password)
    {
        if (!IsValidPassword(password)) return AccountError.BadPassword;
        var hash = PasswordHash.Hash(password);
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "UPDATE users SET hash=$h WHERE name=$n";
            cmd.Parameters.AddWithValue("$h", hash);
            cmd.Parameters.AddWithValue("$n", name);
            return cmd.ExecuteNonQuery() == 1 ? AccountError.None : AccountError.NotFound;
        }
    }

    /// <summary>
    /// Gives <paramref name="name"/> a new random password and returns it, or null when there is no such account.
    /// A missing <see cref="AdminName"/> is created again as admin, so a locked-out installation is recoverable.
    /// </summary>
    public string? ResetPassword(string name = AdminName)
    {
        var password = PasswordHash.NewPassword();
        lock (_gate)
        {
            if (SetPassword(name, password) == AccountError.None) return password;
            if (name != AdminName) return null;
            Insert(AdminName, AccountRole.Admin, [], password);
            return password;
        }
    }

    /// <summary>Removes an account and its tokens.</summary>
    public bool DeleteUser(string name)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "DELETE FROM tokens WHERE owner=$n; DELETE FROM users WHERE name=$n";
            cmd.Parameters.AddWithValue("$n", name);
            return cmd.ExecuteNonQuery() > 0;
        }
    }

    /// <summary>The account when <paramref name="password"/> is right, else null (in about the same time either way).</summary>
    public Account? VerifyPassword(string name, string password)
    {
        (Account Account, string Hash)? row;
        lock (_gate) row = IsValidName(name) ? FindUser(name) : null;
        if (row is not { } found)
        {
            PasswordHash.Verify(password, DummyHash.Value);
            return null;
        }
        return PasswordHash.Verify(password, found.Hash) ? found.Account : null;
    }

    /// <summary>The account of that name, or null.</summary>
    public Account? GetUser(string name)
    {
        lock (_gate) return FindUser(name)?.Account;
    }

    /// <summary>
    /// The account and a stamp that changes with its password (a short SHA-256 of the hash), or null: a sign-in keeps
    /// the stamp, so a new password (a reset after a leak) ends every sign-in made with the old one.
    /// </summary>
    public (Account Account, string Stamp)? GetUserWithStamp(string name)
    {
        lock (_gate)
        {
            if (FindUser(name) is not { } found) return null;
            return (found.Account, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(found.Hash)), 0, 8));
        }
    }

    /// <summary>Every account, by name.</summary>
    public IReadOnlyList<Account> Users()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT name, role, extensions FROM users ORDER BY name";
            using var r = cmd.ExecuteReader();
            var list = new List<Account>();
            while (r.Read()) list.Add(new Account(r.GetString(0), ParseRole(r.GetString(1)), SplitExtensions(r.GetString(2))));
            return list;
        }
    }

    /// <summary>
    /// A new API token for <paramref name="owner"/> acting with <paramref name="role"/> (at most the owner's role): the
    /// secret is returned once and only its SHA-256 is stored.
    /// </summary>
    public (string? Token, AccountError Error) CreateToken(string owner, string label, AccountRole role)
    {
        if (label.Length is 0 or > 100 || label.Any(char.IsControl)) return (null, AccountError.BadName);
        lock (_gate)
        {
            if (FindUser(owner) is not { } user) return (null, AccountError.NotFound);
            if (role > user.Account.Role) return (null, AccountError.RoleAboveOwner);
            using (var count = _db.CreateCommand())
            {
                count.CommandText = "SELECT COUNT(*) FROM tokens";
                if ((long)count.ExecuteScalar()! >= MaxTokens) return (null, AccountError.Exists);
            }
            var secret = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT INTO tokens(hash, label, owner, role, created) VALUES($h, $l, $o, $r, $c)";
            cmd.Parameters.AddWithValue("$h", TokenHash(secret));
            cmd.Parameters.AddWithValue("$l", label);
            cmd.Parameters.AddWithValue("$o", owner);
            cmd.Parameters.AddWithValue("$r", role.ToString());
            cmd.Parameters.AddWithValue("$c", Iso(DateTimeOffset.UtcNow));
            cmd.ExecuteNonQuery();
            return (secret, AccountError.None);
        }
    }

    /// <summary>
    /// The account a bearer token acts as (its owner's name and extensions, the token's role capped by the owner's), or
    /// null for an unknown, revoked or malformed token.
    /// </summary>
    public Account? FindToken(string token)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100) return null;
        var hash = TokenHash(token);
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT t.id, t.role, u.name, u.role, u.extensions FROM tokens t JOIN users u ON u.name = t.owner WHERE t.hash = $h";
            cmd.Parameters.AddWithValue("$h", hash);
            using var r = cmd.ExecuteReader();
            if (!r.Read()) return null;
            var id = r.GetInt64(0);
            var role = (AccountRole)Math.Min((int)ParseRole(r.GetString(1)), (int)ParseRole(r.GetString(3)));
            var account = new Account(r.GetString(2), role, SplitExtensions(r.GetString(4)));
            r.Close();
            using var used = _db.CreateCommand();
            used.CommandText = "UPDATE tokens SET last_used=$t WHERE id=$id";
            used.Parameters.AddWithValue("$t", Iso(DateTimeOffset.UtcNow));
            used.Parameters.AddWithValue("$id", id);
            used.ExecuteNonQuery();
            return account;
        }
    }

    /// <summary>Every token (without secrets).</summary>
    public IReadOnlyList<ApiTokenInfo> Tokens()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, label, owner, role, created, last_used FROM tokens ORDER BY id";
            using var r = cmd.ExecuteReader();
            var list = new List<ApiTokenInfo>();
            while (r.Read())
                list.Add(new ApiTokenInfo(r.GetInt64(0), r.GetString(1), r.GetString(2), ParseRole(r.GetString(3)),
                    DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture),
                    r.IsDBNull(5) ? null : DateTimeOffset.Parse(r.GetString(5), CultureInfo.InvariantCulture)));
            return list;
        }
    }

    /// <summary>Revokes a token.</summary>
    public bool DeleteToken(long id)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "DELETE FROM tokens WHERE id=$id";
            cmd.Parameters.AddWithValue("$id", id);
            return cmd.ExecuteNonQuery() == 1;
        }
    }

    /// <summary>Letters, digits, '.', '_', '-'; 1 to <see cref="MaxNameLength"/> characters.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= MaxNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static bool IsValidPassword(string p) => p.Length >= MinPasswordLength && p.Length <= PasswordHash.MaxPasswordLength;

    private static bool IsValidExtension(string e) => e.Length is > 0 and <= 32 && e.All(char.IsAsciiDigit);

    private void Insert(string name, AccountRole role, IReadOnlyList<string> extensions, string password)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "INSERT INTO users(name, role, hash, extensions, created) VALUES($n, $r, $h, $e, $c)";
        cmd.Parameters.AddWithValue("$n", name);
        cmd.Parameters.AddWithValue("$r", role.ToString());
        cmd.Parameters.AddWithValue("$h", PasswordHash.Hash(password));
        cmd.Parameters.AddWithValue("$e", string.Join(',', extensions));
        cmd.Parameters.AddWithValue("$c", Iso(DateTimeOffset.UtcNow));
        cmd.ExecuteNonQuery();
    }

    private (Account Account, string Hash)? FindUser(string name)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT role, extensions, hash FROM users WHERE name=$n";
        cmd.Parameters.AddWithValue("$n", name);
        using var r = cmd.ExecuteReader();
        return r.Read() ? (new Account(name, ParseRole(r.GetString(0)), SplitExtensions(r.GetString(1))), r.GetString(2)) : null;
    }

    // An unknown role in the file (edited by hand, or from a newer version) gets the least rights, not an exception.
    private static AccountRole ParseRole(string s) => Enum.TryParse<AccountRole>(s, ignoreCase: false, out var r) && Enum.IsDefined(r) ? r : AccountRole.User;

    private static string[] SplitExtensions(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static byte[] TokenHash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Iso(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose() => _db.Dispose();
}
