namespace Switchboard.Web;

/// <summary>The dashboard page: devices with their calls, a command line, and the live event stream.</summary>
internal static class Dashboard
{
    public const string Html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Switchboard</title>
        <style>
          body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
          table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
          .connected { color: #060; } .alerting { color: #b60; } .held { color: #06b; }
          #log { font: 12px monospace; height: 16em; overflow-y: auto; background: #f6f6f6; padding: 6px; }
          input { font: 14px monospace; width: 24em; }
        </style></head>
        <body>
        <h1>Switchboard</h1>
        <table id="devices"><thead><tr><th>Device</th><th>Phone</th><th>Forwarding</th><th>Calls</th></tr></thead><tbody></tbody></table>
        <p><form id="cmd"><input id="line" placeholder="MakeCall 100 101" autocomplete="off"> <button>Send</button> <span id="reply"></span></form></p>
        <h2>Events</h2><div id="log"></div>
        <script>
        const tbody = document.querySelector('#devices tbody');
        async function refresh() {
          const devices = await (await fetch('/api/devices')).json();
          tbody.innerHTML = '';
          for (const d of devices) {
            const tr = document.createElement('tr');
            const calls = d.calls.map(c => `<span class="${c.state}">${c.call}: ${c.state} ${c.partners.join('+')}</span>`).join('<br>') || 'idle';
            tr.innerHTML = `<td>${d.device}</td><td>${d.reachable ? 'reachable' : 'unreachable'}</td><td>${d.forwarding}</td><td>${calls}</td>`;
            tbody.appendChild(tr);
          }
        }
        document.getElementById('cmd').onsubmit = async e => {
          e.preventDefault();
          const r = await fetch('/api/commands', { method: 'POST', body: document.getElementById('line').value });
          const j = await r.json();
          document.getElementById('reply').textContent = `${j.code} ${j.text}`;
          refresh();
        };
        const log = document.getElementById('log');
        const ws = new WebSocket(`ws://${location.host}/api/events?device=*`);
        ws.onmessage = m => {
          const e = JSON.parse(m.data);
          if (e.type !== 'event') return;
          const line = document.createElement('div');
          line.textContent = `${e.seq} ${e.name} ${e.device} call=${e.call ?? ''} state=${e.state} ${e.subject ?? ''} ${e.cause ?? ''}`;
          log.prepend(line);
          refresh();
        };
        refresh(); setInterval(refresh, 5000);
        </script></body></html>
        """;
}
