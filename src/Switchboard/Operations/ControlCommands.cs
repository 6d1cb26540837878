using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Accounts;
using Switchboard.Asterisk;
using Switchboard.Control;
using Switchboard.Switch;
using Switchboard.Telephony;

namespace Switchboard.Operations;

/// <summary>The commands of <c>switchboard ctl</c>, carried out against this host's parts.</summary>
public sealed partial class ControlCommands(IServiceProvider services, ILogger<ControlCommands> log)
{
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    /// <summary>Carries out one request.</summary>
    public async ValueTask<ControlReply> HandleAsync(ControlRequest request, CancellationToken cancellationToken)
    {
        Request(log, request.Command, string.Join(' ', request.Arguments));
        return request.Command switch
        {
            "status" => await StatusAsync(cancellationToken).ConfigureAwait(false),
            "registrations" => Registrations(),
            "calls" => Calls(),
            "trunks" => Trunks(),
            "passwords" => Passwords(request),
            "web-password" => WebPassword(request),
            "sip-trace" => SipTrace(request),
            "reload" => Reload(),
            "help" => ControlReply.Ok("status | registrations | calls | trunks | passwords [EXT] [--reset] | web-password [--reset] | sip-trace on|off [EXT] | reload"),
            _ => ControlReply.Fail(ControlError.UnknownCommand, $"'{request.Command}' is not a command (try help)"),
        };
    }

    private SipSwitch? Sip => services.GetService<SipSwitch>();

    private async Task<ControlReply> StatusAsync(CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<IOptions<SwitchboardOptions>>().Value;
        var model = services.GetRequiredService<CallModel>();
        var lines = new List<string>
        {
            $"version: {Version}",
            $"phone system: {options.PhoneSystem.ToLowerInvariant()}",
            $"up since: {_started:yyyy-MM-dd HH:mm:ss}Z ({(DateTimeOffset.UtcNow - _started).TotalSeconds:0} s)",
            $"database: {Path.GetFullPath(options.Database)}",
            $"devices: {model.Devices.Count}",
            $"active calls: {SwitchboardMetrics.ActiveCalls(model)}",
        };
        if (Sip is { } sw)
        {
            lines.Add($"sip: {sw.LocalEndPoint} (UDP+TCP)");
            lines.Add($"registrations: {sw.Registrations.Count(b => b.Expires > DateTimeOffset.UtcNow)}");
            lines.Add($"trunks registered: {sw.TrunkRegistrations.Count(t => t.State == Switch.Trunks.TrunkRegistrationState.Registered)}/{sw.TrunkRegistrations.Count}");
        }
        if (services.GetService<AsteriskPhoneSystem>() is { } asterisk) lines.Add($"asterisk: {(asterisk.IsConnected ? "connected" : "not connected")}");
        var checks = await services.GetRequiredService<Readiness>().CheckAsync(cancellationToken).ConfigureAwait(false);
        lines.Add("ready: " + (checks.All(c => c.Ok) ? "yes" : "no (" + string.Join(", ", checks.Where(c => !c.Ok).Select(c => c.Name + ": " + c.Detail)) + ")"));
        return ControlReply.Ok(lines);
    }

    private ControlReply Registrations()
    {
        if (Sip is not { } sw) return ControlReply.Fail(ControlError.NotAvailable, "registrations: only the built-in SIP switch has registrations");
        var now = DateTimeOffset.UtcNow;
        var lines = new List<string> { "EXTENSION  EXPIRES-IN  TRANSPORT  SOURCE  CONTACT  USER-AGENT" };
        foreach (var b in sw.Registrations.Where(b => b.Expires > now).OrderBy(b => b.Device, StringComparer.Ordinal))
            lines.Add($"{b.Device}  {(b.Expires - now).TotalSeconds:0}s  {b.Transport}  {b.Source}  {b.Contact}  {b.UserAgent ?? "-"}");
        return ControlReply.Ok(lines);
    }

    private ControlReply Calls()
    {
        var model = services.GetRequiredService<CallModel>();
        var calls = new Dictionary<string, Call>(StringComparer.Ordinal);
        foreach (var device in model.Devices)
            foreach (var c in model.ConnectionsOf(device))
                if (!c.Call.Ended) calls[c.Call.Id] = c.Call;
        var lines = new List<string> { "CALL  CALLING  CALLED  STARTED  ANSWERED  PARTIES" };
        foreach (var call in calls.Values.OrderBy(c => c.Started))
        {
            string parties;
            lock (model.SyncRoot) parties = string.Join(",", call.Connections.Select(p => $"{p.Party}:{p.State.ToString().ToLowerInvariant()}"));
            lines.Add($"{call.Id}  {call.Calling}  {call.Called}  {call.Started:HH:mm:ss}  {(call.Answered is { } a ? a.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "-")}  {parties}");
        }
        return ControlReply.Ok(lines);
    }

    private ControlReply Trunks()
    {
        if (Sip is not { } sw) return ControlReply.Fail(ControlError.NotAvailable, "trunks: only the built-in SIP switch has trunks");
        var lines = new List<string> { "TRUNK  STATE  EXPIRES  LAST-ERROR" };
        foreach (var t in sw.TrunkRegistrations)
            lines.Add($"{t.Name}  {t.State.ToString().ToLowerInvariant()}  {(t.Granted > TimeSpan.Zero ? $"{t.Granted.TotalSeconds:0}s" : "-")}  {t.LastError ?? "-"}");
        return ControlReply.Ok(lines);
    }

    private ControlReply Passwords(ControlRequest request)
    {
        if (Sip is not { } sw) return ControlReply.Fail(ControlError.NotAvailable, "passwords: only the built-in SIP switch keeps SIP passwords");
        var device = request.Arguments.Count > 0 ? request.Arguments[0] : null;
        if (request.Arguments.Count > 1 || request.Flags.Any(f => f != "reset")) return ControlReply.Fail(ControlError.BadRequest, "usage: passwords [EXT] [--reset]");
        if (device is not null && !sw.Model.IsDevice(device)) return ControlReply.Fail(ControlError.NotFound, $"passwords: {device} is not an extension");
        if (request.Flags.Contains("reset"))
        {
            if (device is null) return ControlReply.Fail(ControlError.BadRequest, "passwords --reset: name the extension (passwords EXT --reset)");
            var configured = services.GetRequiredService<IOptions<SwitchOptions>>().Value.Passwords;
            if (configured.TryGetValue(device, out var fixedPassword) && !string.IsNullOrEmpty(fixedPassword))
                return ControlReply.Fail(ControlError.BadRequest, $"passwords: {device} has a configured password (Sip:Passwords:{device}); change it there and reload");
            var secret = sw.Secrets.Reset(device);
            PasswordReset(log, device);
            return ControlReply.Ok($"{device}  {secret}  (new; the phone must register with it)");
        }
        var pending = sw.Secrets.Pending();
        var all = sw.Secrets.All();
        var lines = new List<string>();
        foreach (var d in sw.Model.Devices.Order(StringComparer.Ordinal).Where(d => device is null || d == device))
        {
            if (pending.TryGetValue(d, out var p)) lines.Add($"{d}  {p}  (not yet registered)");
            else if (all.ContainsKey(d)) lines.Add($"{d}  -  (in use since its first registration; stored as a digest hash only: --reset gives a new one)");
            else lines.Add($"{d}  -  (none)");
        }
        return ControlReply.Ok(lines);
    }

    private ControlReply WebPassword(ControlRequest request)
    {
        if (request.Arguments.Count > 0 || request.Flags.Any(f => f != "reset")) return ControlReply.Fail(ControlError.BadRequest, "usage: web-password [--reset]");
        // The running web server's own store when it is up, so its connection sees the new hash at once; otherwise the
        // same file opened here (an operator locked out while the CTI server port is off can still recover).
        var web = services.GetService<Web.CtiWebServer>();
        string? password;
        if (web is not null)
        {
            password = web.Accounts.ResetPassword();
        }
        else
        {
            var options = services.GetRequiredService<IOptions<SwitchboardOptions>>().Value;
            var webOptions = services.GetRequiredService<IConfiguration>().GetSection("Web").Get<Web.WebOptions>() ?? new Web.WebOptions();
            using var store = new AccountStore(Web.CtiWebServer.AccountsPathFor(options.Database, webOptions));
            password = store.ResetPassword();
        }
        if (password is null) return ControlReply.Fail(ControlError.Failed, "web-password: the admin account could not be reset");
        WebPasswordReset(log, AccountStore.AdminName);
        return ControlReply.Ok($"{AccountStore.AdminName}  {password}  (new; shown only this once, stored as a hash)");
    }

    private ControlReply SipTrace(ControlRequest request)
    {
        if (Sip is not { } sw) return ControlReply.Fail(ControlError.NotAvailable, "sip-trace: only the built-in SIP switch has a SIP trace");
        if (request.Arguments.Count is < 1 or > 2 || request.Arguments[0] is not ("on" or "off"))
            return ControlReply.Fail(ControlError.BadRequest, "usage: sip-trace on|off [EXT]");
        var device = request.Arguments.Count > 1 ? request.Arguments[1] : null;
        if (device is not null && !sw.Model.IsDevice(device)) return ControlReply.Fail(ControlError.NotFound, $"sip-trace: {device} is not an extension");
        var trace = sw.MessageTrace;
        if (request.Arguments[0] == "on")
        {
            if (!trace.On(device)) return ControlReply.Fail(ControlError.Failed, $"sip-trace: at most {Switchboard.Sip.Transport.SipMessageTrace.MaxDevices} extensions are traced at once");
        }
        else trace.Off(device);
        TraceChanged(log, request.Arguments[0], device ?? "all");
        return ControlReply.Ok("tracing: " + (trace.Enabled ? string.Join(",", trace.Devices) : "off"));
    }

    private ControlReply Reload()
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        if (configuration is not IConfigurationRoot root) return ControlReply.Fail(ControlError.NotAvailable, "reload: configuration cannot be re-read");
        var before = Snapshot(root);
        root.Reload();
        var after = Snapshot(root);
        var lines = new List<string>();
        if (Sip is { } sw)
        {
            // Passwords are safe to apply live: a phone registered with the old one is challenged at its next refresh.
            var configured = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var child in root.GetSection("Sip:Passwords").GetChildren())
                if (child.Value is { Length: > 0 } v) configured[child.Key] = v;
            var changed = configured.Where(p => !before.Passwords.TryGetValue(p.Key, out var old) || old != p.Value).Select(p => p.Key).ToList();
            if (changed.Count > 0)
            {
                sw.Secrets.EnsureAll(changed.Where(sw.Model.IsDevice), configured);
                foreach (var d in changed)
                {
                    ReloadApplied(log, "Sip:Passwords:" + d);
                    lines.Add($"Sip:Passwords:{d}: applied");
                }
            }
        }
        if (after.Sections["Access"] != before.Sections["Access"])
        {
            // The access lists are one swappable set of rules: safe to apply live, each new connection and command
            // is judged by the new lists (connections already open stay open).
            var access = new Interface.Access.AccessOptions();
            var section = root.GetSection("Access");
            section.Bind(access);
            ConfiguredLists.Replace(access, section);
            try
            {
                services.GetRequiredService<Interface.Access.AccessPolicy>().Apply(access);
                ReloadApplied(log, "Access");
                lines.Add("Access: applied");
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                ReloadRefused(log, "Access", e.Message);
                lines.Add($"Access: not applied, the lists in force stay ({e.Message})");
            }
        }
        foreach (var (section, old) in before.Sections)
        {
            if (section == "Access" || after.Sections[section] == old) continue;
            // Devices and trunks are read by parts built at start (the call model, trunk registrations): changing
            // them under live calls is not safe, so say so.
            ReloadNeedsRestart(log, section);
            lines.Add($"{section}: changed; takes effect at the next restart");
        }
        if (lines.Count == 0) lines.Add("no changes");
        return ControlReply.Ok(lines);
    }

    private static (Dictionary<string, string> Passwords, Dictionary<string, string> Sections) Snapshot(IConfigurationRoot root)
    {
        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var child in root.GetSection("Sip:Passwords").GetChildren())
            if (child.Value is { } v) passwords[child.Key] = v;
        var sections = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "Sip:Devices", "Sip:Trunks", "Access", "Simulation:Devices", "Asterisk:Devices" })
            sections[name] = string.Join("\n", root.GetSection(name).AsEnumerable().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
        return (passwords, sections);
    }

    /// <summary>The product version (informational version without the source revision).</summary>
    public static string Version
    {
        get
        {
            var v = typeof(ControlCommands).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
            int plus = v.IndexOf('+');
            return plus > 0 ? v[..plus] : v;
        }
    }

    [LoggerMessage(EventId = 1030, Level = LogLevel.Debug, Message = "Control request {Command} {Arguments}")]
    private static partial void Request(ILogger log, string command, string arguments);

    [LoggerMessage(EventId = 1031, Level = LogLevel.Warning, Message = "SIP password of extension {Device} reset over the control socket; the phone must register with the new one")]
    private static partial void PasswordReset(ILogger log, string device);

    [LoggerMessage(EventId = 1050, Level = LogLevel.Warning, Message = "Web account {Name}: password reset over the control socket; the old one no longer signs in")]
    private static partial void WebPasswordReset(ILogger log, string name);

    [LoggerMessage(EventId = 1032, Level = LogLevel.Information, Message = "SIP trace {State} for {Device}")]
    private static partial void TraceChanged(ILogger log, string state, string device);

    [LoggerMessage(EventId = 1033, Level = LogLevel.Information, Message = "Reload: {Setting} applied")]
    private static partial void ReloadApplied(ILogger log, string setting);

    [LoggerMessage(EventId = 1035, Level = LogLevel.Warning, Message = "Reload: {Section} not applied, the settings in force stay: {Reason}")]
    private static partial void ReloadRefused(ILogger log, string section, string reason);

    [LoggerMessage(EventId = 1034, Level = LogLevel.Warning, Message = "Reload: {Section} changed; it takes effect at the next restart")]
    private static partial void ReloadNeedsRestart(ILogger log, string section);
}
