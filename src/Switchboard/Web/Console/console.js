'use strict';
// The operator console. Every value from the server (names, numbers, user agents) is shown with textContent only;
// class names are built from a fixed list of lamp and state names, never from data.
const lamps = new Set(['idle', 'ringing', 'talking', 'held', 'dnd', 'forwarded', 'unregistered']);
const lampWords = { idle: 'idle', ringing: 'ringing', talking: 'talking', held: 'held', dnd: 'DND', forwarded: 'forwarded', unregistered: 'unregistered' };
let session = null;
let devices = [];
let lastSeq = null;
let socket = null;
let retryMs = 1000;
let journalPage = 1;
let refreshTimer = null;
const firstSeen = new Map();

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = String(v);
    else if (k === 'className') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c) e.appendChild(c);
  return e;
}

async function api(path, init) {
  const opts = Object.assign({ credentials: 'same-origin', headers: {} }, init || {});
  if (opts.method && opts.method !== 'GET') opts.headers[session.csrfHeader] = session.csrf;
  const r = await fetch(path, opts);
  if (r.status === 401) { location.href = '/login'; throw new Error('signed out'); }
  return r;
}

async function command(line) {
  const reply = document.getElementById('reply');
  try {
    const r = await api('/api/commands', { method: 'POST', body: line, headers: { 'Content-Type': 'text/plain' } });
    const j = await r.json();
    reply.textContent = `${j.code} ${j.text}`;
    reply.className = r.ok ? '' : 'err';
  } catch (e) {
    reply.textContent = `failed: ${e.message}`;
    reply.className = 'err';
  }
  scheduleRefresh();
}

function me() { return document.getElementById('me').value; }

function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = n => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

function callStart(c) {
  if (c.since) return Date.parse(c.since);
  if (!firstSeen.has(c.call)) firstSeen.set(c.call, Date.now());
  return firstSeen.get(c.call);
}

function tickTimers() {
  for (const t of document.querySelectorAll('.timer[data-since]')) t.textContent = fmtDuration(Date.now() - Number(t.dataset.since));
}

function callActions(d, c) {
  const b = (label, line, cls) => el('button', { type: 'button', className: cls, text: label, onclick: ev => { ev.stopPropagation(); command(line); } });
  const box = el('div', { className: 'actions' });
  const dev = d.device;
  if (c.state === 'alerting') box.append(b('Answer', `Answer ${dev}`, 'answer'));
  if (c.state === 'connected') box.append(b('Hold', `Hold ${dev}`, 'hold'));
  if (c.state === 'held') box.append(b('Retrieve', `Retrieve ${dev}`, 'retrieve'));
  if (d.calls.length > 1) {
    box.append(b('Toggle', `Toggle ${dev}`, 'toggle'), b('Transfer', `Transfer ${dev}`, 'transfer'), b('Conference', `Conference ${dev}`, 'conference'));
  }
  box.append(b(c.state === 'alerting' ? 'Reject' : 'Drop', `Drop ${dev}`, 'drop'));
  return box;
}

function tile(d) {
  const lamp = lamps.has(d.lamp) ? d.lamp : 'idle';
  const t = el('div', { className: `tile lamp-${lamp}`, 'data-device': d.device, 'data-lamp': lamp, role: 'button', tabindex: 0 });
  if (d.device === me()) t.classList.add('me');
  t.append(el('div', { className: 'top' }, el('span', { className: 'lamp' }), el('span', { className: 'ext', text: d.device }),
    el('span', { className: 'lampword', text: lampWords[lamp] })));
  t.append(el('div', { className: 'name', text: d.name || '\u00a0' }));
  for (const c of d.calls) {
    const chip = el('div', { className: 'call', draggable: 'true', 'data-call': c.call, 'data-device': d.device, 'data-state': c.state });
    chip.addEventListener('dragstart', ev => {
      ev.stopPropagation();
      ev.dataTransfer.setData('application/x-switchboard-call', JSON.stringify({ device: d.device, call: c.call }));
      ev.dataTransfer.effectAllowed = 'move';
    });
    chip.addEventListener('click', ev => ev.stopPropagation());
    const partners = c.partners.length ? c.partners.join(' + ') : 'unknown';
    chip.append(el('div', { className: 'what' }, el('span', { className: 'partner', text: `${c.state} ${partners}` }),
      el('span', { className: 'timer', 'data-since': callStart(c), text: fmtDuration(Date.now() - callStart(c)) })));
    chip.append(callActions(d, c));
    t.append(chip);
  }
  const sw = el('div', { className: 'switches' });
  sw.addEventListener('click', ev => ev.stopPropagation());
  const dnd = el('input', { type: 'checkbox', className: 'dnd', 'aria-label': `do not disturb ${d.device}` });
  dnd.checked = !!d.dnd;
  dnd.addEventListener('change', () => command(dnd.checked ? `Forward ${d.device} *` : `Forward ${d.device}`));
  const fwd = el('input', { type: 'text', className: 'fwd', placeholder: 'forward to', inputmode: 'tel', maxlength: 40 });
  fwd.value = d.forwardTo || '';
  const fwdBtn = el('button', { type: 'button', className: 'fwdset', text: d.forwardTo ? 'Clear' : 'Forward' });
  fwdBtn.addEventListener('click', () => command(d.forwardTo ? `Forward ${d.device}` : `Forward ${d.device} ${fwd.value}`));
  sw.append(el('label', null, dnd, document.createTextNode(' DND')), fwd, fwdBtn);
  t.append(sw);
  t.addEventListener('click', () => tileClicked(d));
  t.addEventListener('keydown', ev => { if (ev.key === 'Enter') tileClicked(d); });
  t.addEventListener('dragover', ev => {
    if (ev.dataTransfer.types.includes('application/x-switchboard-call')) { ev.preventDefault(); t.classList.add('drop-target'); }
  });
  t.addEventListener('dragleave', () => t.classList.remove('drop-target'));
  t.addEventListener('drop', ev => {
    ev.preventDefault();
    t.classList.remove('drop-target');
    let from;
    try { from = JSON.parse(ev.dataTransfer.getData('application/x-switchboard-call')); } catch { return; }
    if (from && from.device !== d.device) command(`Redirect ${from.device} ${d.device}`);
  });
  return t;
}

function tileClicked(d) {
  const mine = me();
  if (!mine) { document.getElementById('reply').textContent = 'choose your phone first'; return; }
  if (d.device === mine) return;
  // A ringing extension is picked up to my phone; any other is called from my phone.
  if (d.lamp === 'ringing') command(`Pickup ${mine} ${d.device}`);
  else command(`MakeCall ${mine} ${d.device}`);
}

function renderTiles() {
  document.getElementById('tiles').replaceChildren(...devices.map(tile));
}

function fillMe() {
  const sel = document.getElementById('me');
  const keep = sel.value || localStorage.getItem('sb.me') || '';
  const options = devices.map(d => el('option', { value: d.device, text: d.name ? `${d.device} ${d.name}` : d.device }));
  sel.replaceChildren(el('option', { value: '', text: '—' }), ...options);
  if (devices.some(d => d.device === keep)) sel.value = keep;
  else if (devices.length === 1) sel.value = devices[0].device;
}

async function refreshDevices() {
  const r = await api('/api/devices');
  devices = await r.json();
  if (document.getElementById('me').options.length !== devices.length + 1) fillMe();
  renderTiles();
}

function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => { refreshTimer = null; try { await refreshDevices(); } catch { /* shown at the next try */ } }, 100);
}

function cellRow(values) {
  return el('tr', null, ...values.map(v => el('td', { text: v ?? '' })));
}

function localTime(iso) { return iso ? new Date(iso).toLocaleString() : ''; }

async function refreshJournal() {
  const q = document.getElementById('q').value;
  const r = await api(`/api/journal?page=${journalPage}&size=15&q=${encodeURIComponent(q)}`);
  const j = await r.json();
  journalPage = j.page;
  document.querySelector('#journal tbody').replaceChildren(...j.items.map(i =>
    cellRow([localTime(i.started), i.calling, i.called, i.answeredBy, i.seconds == null ? '' : fmtDuration(i.seconds * 1000), i.outcome])));
  document.getElementById('pageinfo').textContent = `page ${j.page} of ${j.pages} (${j.total} calls)`;
  document.getElementById('prev').disabled = j.page <= 1;
  document.getElementById('next').disabled = j.page >= j.pages;
}

async function refreshRegistrations() {
  const r = await api('/api/registrations');
  const j = await r.json();
  document.querySelector('#regs tbody').replaceChildren(...j.phones.map(p =>
    cellRow([p.device, p.source, p.transport, p.nat ? 'yes' : 'no', p.userAgent, `${p.expiresIn} s`])));
  document.querySelector('#trunks tbody').replaceChildren(...j.trunks.map(t =>
    cellRow([t.name, t.upstream, t.state, t.lastError || (t.grantedSeconds ? `granted ${t.grantedSeconds} s` : '')])));
}

function connect() {
  const live = document.getElementById('live');
  const after = lastSeq === null ? '' : `&after=${lastSeq}`;
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events?device=*${after}`);
  socket.onopen = () => { live.textContent = 'live'; live.className = 'live-on'; retryMs = 1000; };
  socket.onmessage = m => {
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    if (e.type === 'subscribed') {
      // Resumed after a reconnect: what was missed is replayed after this; a reset means start over.
      if (e.reset || e.missed) { refreshDevices(); refreshJournal(); }
      if (lastSeq === null || e.reset) lastSeq = e.after;
      return;
    }
    if (e.type !== 'event') return;
    if (typeof e.seq === 'number') lastSeq = e.seq;
    scheduleRefresh();
    if (e.name === 'ConnectionCleared' || e.name === 'Failed') setTimeout(refreshJournal, 300);
  };
  socket.onclose = () => {
    live.textContent = 'reconnecting…'; live.className = 'live-off';
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  };
}

async function start() {
  const r = await fetch('/api/session', { credentials: 'same-origin' });
  if (r.status === 401) { location.href = '/login'; return; }
  session = await r.json();
  document.getElementById('who').textContent = `${session.name} (${session.role})`;
  document.getElementById('banner').hidden = !session.ipPortOpenToAnyOrigin;
  document.getElementById('logout').addEventListener('click', async () => {
    await api('/logout', { method: 'POST' });
    location.href = '/login';
  });
  document.getElementById('me').addEventListener('change', () => { localStorage.setItem('sb.me', me()); renderTiles(); });
  document.getElementById('dial').addEventListener('submit', ev => {
    ev.preventDefault();
    const n = document.getElementById('number').value.trim();
    if (!me()) { document.getElementById('reply').textContent = 'choose your phone first'; return; }
    if (n) command(`MakeCall ${me()} ${n}`);
  });
  document.getElementById('search').addEventListener('submit', ev => { ev.preventDefault(); journalPage = 1; refreshJournal(); });
  document.getElementById('prev').addEventListener('click', () => { journalPage--; refreshJournal(); });
  document.getElementById('next').addEventListener('click', () => { journalPage++; refreshJournal(); });
  await refreshDevices();
  fillMe();
  renderTiles();
  connect();
  refreshJournal();
  refreshRegistrations();
  setInterval(tickTimers, 1000);
  setInterval(() => { refreshRegistrations(); }, 15000);
  // A safety net for events lost in a reconnect gap longer than the hub's history.
  setInterval(scheduleRefresh, 30000);
}
document.addEventListener('DOMContentLoaded', start);
