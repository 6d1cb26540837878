using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Switchboard.Web;

/// <summary>
/// The dashboard page: devices with their calls, a command line, and the live event stream. Everything shown comes
/// from phones and trunks, so the page treats it as text: the script builds DOM nodes and sets
/// <c>textContent</c>, never <c>innerHTML</c>; script and style are files of their own, so the
/// Content-Security-Policy can forbid inline script altogether and a string that slipped through anyway cannot run.
/// </summary>
internal static class Dashboard
{
    /// <summary>
    /// Sent with every response of the CTI port: only this origin's files run (no inline script, no eval), nothing
    /// may frame the page (click-jacking of the command line), no plugins, no base-URI tricks.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Adds the security headers before anything else answers (also the allow-list's 403).</summary>
    public static Task SecurityHeadersAsync(HttpContext ctx, RequestDelegate next)
    {
        var h = ctx.Response.Headers;
        h.ContentSecurityPolicy = ContentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        return next(ctx);
    }

    /// <summary>Maps the page and its script and style.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Content(Html, "text/html; charset=utf-8"));
        app.MapGet("/dashboard.js", () => Results.Content(Script, "text/javascript; charset=utf-8"));
        app.MapGet("/dashboard.css", () => Results.Content(Style, "text/css; charset=utf-8"));
    }

    public const string Html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Switchboard</title>
        <link rel="stylesheet" href="/dashboard.css">
        <script src="/dashboard.js" defer></script>
        </head>
        <body>
        <h1>Switchboard</h1>
        <table id="devices"><thead><tr><th>Device</th><th>Phone</th><th>Forwarding</th><th>Calls</th></tr></thead><tbody></tbody></table>
        <p><form id="cmd"><input id="line" placeholder="MakeCall 100 101" autocomplete="off"> <button>Send</button> <span id="reply"></span></form></p>
        <h2>Events</h2><div id="log"></div>
        </body></html>
        """;

    public const string Style = """
        body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
        .connected { color: #060; } .alerting { color: #b60; } .held { color: #06b; }
        #log { font: 12px monospace; height: 16em; overflow-y: auto; background: #f6f6f6; padding: 6px; }
        input { font: 14px monospace; width: 24em; }
        """;

    // Text only: every value from the API goes through textContent; the state is used as a class name only when it is
    // one of the known states.
    public const string Script = """
        'use strict';
        const states = new Set(['connected', 'alerting', 'held', 'initiated', 'failed', 'queued']);
        const maxLogLines = 500;
        function cell(tr, text) {
          const td = document.createElement('td');
          td.textContent = String(text);
          tr.appendChild(td);
          return td;
        }
        async function refresh() {
          const devices = await (await fetch('/api/devices')).json();
          const rows = [];
          for (const d of devices) {
            const tr = document.createElement('tr');
            cell(tr, d.device);
            cell(tr, d.reachable ? 'reachable' : 'unreachable');
            cell(tr, d.forwarding);
            const calls = cell(tr, d.calls.length === 0 ? 'idle' : '');
            d.calls.forEach((c, i) => {
              if (i > 0) calls.appendChild(document.createElement('br'));
              const span = document.createElement('span');
              if (states.has(c.state)) span.className = c.state;
              span.textContent = `${c.call}: ${c.state} ${c.partners.join('+')}`;
              calls.appendChild(span);
            });
            rows.push(tr);
          }
          document.querySelector('#devices tbody').replaceChildren(...rows);
        }
        function start() {
          document.getElementById('cmd').addEventListener('submit', async e => {
            e.preventDefault();
            const r = await fetch('/api/commands', { method: 'POST', body: document.getElementById('line').value });
            const j = await r.json();
            document.getElementById('reply').textContent = `${j.code} ${j.text}`;
            refresh();
          });
          const log = document.getElementById('log');
          const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events?device=*`);
          ws.onmessage = m => {
            const e = JSON.parse(m.data);
            if (e.type !== 'event') return;
            const line = document.createElement('div');
            line.textContent = `${e.seq} ${e.name} ${e.device} call=${e.call ?? ''} state=${e.state} ${e.subject ?? ''} ${e.cause ?? ''}`;
            log.prepend(line);
            while (log.childElementCount > maxLogLines) log.lastElementChild.remove();
            refresh();
          };
          refresh();
          setInterval(refresh, 5000);
        }
        document.addEventListener('DOMContentLoaded', start);
        """;
}
