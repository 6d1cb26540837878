using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Accounts;
using Switchboard.Interface.Commands;
using Switchboard.Storage;
using Switchboard.Switch;
using Switchboard.Switch.Registrar;
using Switchboard.Telephony;

namespace Switchboard.Web;

public sealed partial class CtiWebServer
{
    private const int MaxPageSize = 200;
    private const int MaxSearchLength = 64;

    private void MapApi(WebApplication app)
    {
        app.MapGet("/api/devices", async (HttpContext ctx, CancellationToken ct) =>
        {
            var account = AccountOf(ctx);
            var started = RecentStarts();
            var list = new List<object>();
            foreach (var d in interpreter.CallControl.Devices.Order(StringComparer.Ordinal))
                if (account.MayUse(d) && await interpreter.CallControl.GetStatusAsync(d, ct) is { } s) list.Add(ToJson(s, started));
            return Results.Json(list, Json);
        });
        app.MapGet("/api/devices/{device}", async (HttpContext ctx, string device, CancellationToken ct) =>
        {
            if (!AccountOf(ctx).MayUse(device)) return Results.Json(new { code = 403, text = "this account may not see that device" }, Json, statusCode: 403);
            return await interpreter.CallControl.GetStatusAsync(device, ct) is { } s
                ? Results.Json(ToJson(s, RecentStarts()), Json)
                : Results.Json(new { code = 404, text = $"unknown device {device}" }, Json, statusCode: 404);
        });
        app.MapGet("/api/calls", (HttpContext ctx, int? limit) =>
        {
            var account = AccountOf(ctx);
            var rows = journal.Recent(Math.Clamp(limit ?? 50, 1, 1000));
            return Results.Json(account.Role == AccountRole.User ? rows.Where(r => Involves(account, r)).ToList() : rows, Json);
        });
        app.MapGet("/api/journal", (HttpContext ctx, string? q, int? page, int? size) =>
        {
            var account = AccountOf(ctx);
            var search = (q ?? "").Trim();
            if (search.Length > MaxSearchLength) search = search[..MaxSearchLength];
            int pageSize = Math.Clamp(size ?? 20, 1, MaxPageSize);
            // The journal API gives the newest rows; search and paging run over a bounded window of them.
            var matches = journal.Recent(Math.Clamp(_web.JournalSearchRows, 1, 100_000))
                .Where(r => Involves(account, r) && Matches(r, search))
                .ToList();
            int pages = Math.Max(1, (matches.Count + pageSize - 1) / pageSize);
            int p = Math.Clamp(page ?? 1, 1, pages);
            return Results.Json(new
            {
                total = matches.Count,
                page = p,
                pages,
                size = pageSize,
                items = matches.Skip((p - 1) * pageSize).Take(pageSize).Select(r => new
                {
                    call = r.CallId,
                    r.Calling,
                    r.Called,
                    r.Started,
                    r.Answered,
                    r.Ended,
                    outcome = r.Ended is null ? "in progress" : r.Outcome?.ToString() ?? "unknown",
                    r.AnsweredBy,
                    seconds = r.Answered is { } a && r.Ended is { } e ? (int)(e - a).TotalSeconds : (int?)null,
                }),
            }, Json);
        });
        app.MapGet("/api/registrations", (HttpContext ctx) =>
        {
            var account = AccountOf(ctx);
            var now = DateTimeOffset.UtcNow;
            var bindings = services.GetService<SqliteStore>() is IPhoneBindingStore store ? store.LoadBindings() : [];
            var phones = bindings.Where(b => b.Expires > now && account.MayUse(b.Device)).OrderBy(b => b.Device, StringComparer.Ordinal).Select(b => new
            {
                device = b.Device,
                contact = b.Contact,
                source = b.Source,
                transport = b.Transport,
                userAgent = b.UserAgent,
                nat = PhoneFlow.Of(b)?.NatDetected ?? false,
                expiresIn = (int)(b.Expires - now).TotalSeconds,
            }).ToList();
            var trunks = new List<object>();
            if (account.Role != AccountRole.User && services.GetService<SipSwitch>() is { } sip)
            {
                var registering = sip.Trunks.Trunks.Where(t => t.Options.Register).ToList();
                foreach (var t in sip.Trunks.Trunks)
                {
                    int i = registering.IndexOf(t);
                    var reg = i >= 0 && i < sip.TrunkRegistrations.Count ? sip.TrunkRegistrations[i] : null;
                    trunks.Add(new
                    {
                        name = t.Name,
                        upstream = t.Upstream.ToString(),
                        registers = t.Options.Register,
                        state = reg?.State.ToString() ?? "static",
                        lastError = reg?.LastError,
                        grantedSeconds = reg is null ? (int?)null : (int)reg.Granted.TotalSeconds,
                    });
                }
            }
            return Results.Json(new { phones, trunks }, Json);
        });
        app.MapPost("/api/commands", async (HttpContext ctx) =>
        {
            if (await ReadBodyAsync(ctx) is not { } body) return TooLarge(ctx);
            var line = body.Trim();
            var account = AccountOf(ctx);
            if (account.Role == AccountRole.User && RefuseForUser(account, line) is { } refused)
                return Results.Json(new { code = 403, text = refused }, Json, statusCode: 403);
            var client = new ClientContext(FrontEndKind.Http, ctx.Connection.RemoteIpAddress);
            var reply = await interpreter.ExecuteAsync(line, client, ctx.RequestAborted);
            return Results.Json(new { code = (int)reply.Code, text = reply.Message }, Json, statusCode: (int)reply.Code);
        });
    }

    /// <summary>
    /// Why a command is refused for an account of role user: it names a device other than its own, or the NNNNN
    /// placeholder (the web port's client address is no phone's). Pickup's second device is a device too.
    /// </summary>
    private static string? RefuseForUser(Account account, string line)
    {
        if (!CommandParser.TryParse(line, out var command, out _)) return null; // the interpreter answers 400 with the reason
        if (command!.DeviceIsPlaceholder || !account.MayUse(command.Device))
            return $"{command.Verb} {command.Device}: account {account.Name} may control only its own extensions ({string.Join(",", account.Extensions)})";
        if (command.Verb == CommandVerb.Pickup && command.Argument is { } other && !account.MayUse(other))
            return $"Pickup {command.Device} {other}: account {account.Name} may pick up only at its own extensions";
        return null;
    }

    private static bool Involves(Account account, CallJournalEntry r) =>
        account.Role != AccountRole.User || account.MayUse(r.Calling) || account.MayUse(r.Called) || (r.AnsweredBy is { } b && account.MayUse(b));

    private static bool Matches(CallJournalEntry r, string q) =>
        q.Length == 0
        || r.Calling.Contains(q, StringComparison.OrdinalIgnoreCase)
        || r.Called.Contains(q, StringComparison.OrdinalIgnoreCase)
        || r.CallId.Contains(q, StringComparison.OrdinalIgnoreCase)
        || (r.AnsweredBy?.Contains(q, StringComparison.OrdinalIgnoreCase) ?? false)
        || (r.Outcome?.ToString().Contains(q, StringComparison.OrdinalIgnoreCase) ?? false);

    /// <summary>Devices:EXT:Name, or null.</summary>
    private string? NameOf(string device)
    {
        var name = configuration[$"Devices:{device}:Name"];
        return name is { Length: > 0 } ? name : null;
    }

    /// <summary>When the calls in progress began (for the call timers), from the newest journal rows.</summary>
    private Dictionary<string, (DateTimeOffset Started, DateTimeOffset? Answered)> RecentStarts()
    {
        var map = new Dictionary<string, (DateTimeOffset, DateTimeOffset?)>(StringComparer.Ordinal);
        foreach (var r in journal.Recent(200))
            if (r.Ended is null) map.TryAdd(r.CallId, (r.Started, r.Answered));
        return map;
    }

    /// <summary>The lamp of a tile: the most urgent of the device's states.</summary>
    private static string Lamp(DeviceStatus s)
    {
        if (!s.Reachable) return "unregistered";
        if (s.Connections.Any(c => c.State == ConnectionState.Alerting)) return "ringing";
        if (s.Connections.Any(c => c.State is ConnectionState.Connected or ConnectionState.Initiated)) return "talking";
        if (s.Connections.Any(c => c.State == ConnectionState.Held)) return "held";
        return s.Forwarding.Mode switch
        {
            ForwardingMode.DoNotDisturb => "dnd",
            ForwardingMode.ForwardAll => "forwarded",
            _ => "idle",
        };
    }

    private object ToJson(DeviceStatus s, Dictionary<string, (DateTimeOffset Started, DateTimeOffset? Answered)> started) => new
    {
        device = s.Device,
        name = NameOf(s.Device),
        reachable = s.Reachable,
        forwarding = s.Forwarding.ToString(),
        dnd = s.Forwarding.Mode == ForwardingMode.DoNotDisturb,
        forwardTo = s.Forwarding.Mode == ForwardingMode.ForwardAll ? s.Forwarding.Target : null,
        lamp = Lamp(s),
        calls = s.Connections.Select(c => new
        {
            call = c.CallId,
            state = c.State.ToWire(),
            partners = c.Partners,
            since = started.TryGetValue(c.CallId, out var t) ? (c.State == ConnectionState.Alerting ? t.Started : t.Answered ?? t.Started) : (DateTimeOffset?)null,
        }),
        registered = s.RegisteredFrom,
    };
}
