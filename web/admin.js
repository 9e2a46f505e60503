// arena admin view: polls the admin API every POLL_MS and renders the fleet, rooms,
// a player's sockets (with Disconnect buttons), battles and the hunt. In token mode the
// API answers 401/403 until a token with the admin role is pasted; the token stays in
// this tab's sessionStorage and goes out as `Authorization: Bearer`.
//
// window.arenaAdmin exposes the last answers, for tests and the console.

const POLL_MS = 1500;
const TOKEN_KEY = 'arena.adminToken';
const THEME_KEY = 'arena.adminTheme';

const $ = (s) => document.querySelector(s);
const state = (window.arenaAdmin = { polls: 0, instances: null, rooms: null, player: null, errors: [] });

// ---------- theme: auto (prefers-color-scheme) -> light -> dark ----------
function applyTheme(t) {
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  $('#theme').textContent = `Theme: ${t || 'auto'}`;
}
applyTheme(localStorage.getItem(THEME_KEY));
$('#theme').addEventListener('click', () => {
  const order = [null, 'light', 'dark'];
  const cur = localStorage.getItem(THEME_KEY);
  const next = order[(order.indexOf(cur) + 1) % order.length];
  if (next) localStorage.setItem(THEME_KEY, next);
  else localStorage.removeItem(THEME_KEY);
  applyTheme(next);
});

// ---------- the API ----------
class AuthNeeded extends Error {}

async function api(path, method = 'GET') {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, cache: 'no-store' });
  if (res.status === 401 || res.status === 403) {
    let msg = `${res.status}`;
    try { msg = (await res.json()).error.message; } catch { /* keep the status */ }
    throw new AuthNeeded(msg);
  }
  if (res.status === 404 && path.startsWith('/api/admin/') && !path.includes('/sockets/')) {
    // A mode that is not running has no admin route: shown as absent, not an error.
    return null;
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}

function showLogin(reason) {
  $('#login').hidden = false;
  $('#forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
  const e = $('#login-error');
  e.hidden = !reason;
  e.textContent = reason ? `Refused: ${reason}` : '';
}

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('#token').value.trim();
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  $('#token').value = '';
  poll();
});
$('#forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('');
});

// ---------- rendering ----------
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(c instanceof Node ? c : el('td', c));
  return tr;
}
const num = (v) => el('td', v, 'n');
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
function dur(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}
const ago = (ms) => `${Math.max(0, Math.round((Date.now() - ms) / 1000))}s ago`;
const time = (ms) => new Date(ms).toLocaleTimeString();
function fill(sel, rows, empty) {
  const body = $(`${sel} tbody`);
  body.replaceChildren(...rows);
  if (!rows.length && empty) {
    const td = el('td', empty, 'muted');
    td.colSpan = $(`${sel} thead tr`).children.length;
    body.append(row([td]));
  }
}

// `rooms`: the fleet's distinct rooms (a room with members on two instances is one room;
// each instance's own figure counts it once each).
function renderFleet(f, rooms) {
  const t = f.totals;
  $('#totals').replaceChildren(
    ...[['instances', t.instances], ['clients', t.clients], ['rooms', rooms],
      ['RSS', mb(t.rssBytes)], ['CPU s', t.cpuSeconds.toFixed(1)]].map(([k, v]) => {
      const d = el('div');
      d.dataset.total = k;
      d.append(el('b', v), el('span', k));
      return d;
    }));
  fill('#instances', f.instances.map((m) => {
    const tr = row([el('td', m.id, 'mono'), m.version, el('td', m.address, 'mono'), num(m.clients),
      num(m.rooms), num(mb(m.rssBytes)), num(m.cpuSeconds.toFixed(1)),
      num(dur((m.lastSeen - m.startedAt) / 1000)), num(ago(m.lastSeen))]);
    tr.dataset.instance = m.id;
    tr.dataset.clients = m.clients;
    return tr;
  }), 'no live instances');
}

function renderRooms(r) {
  $('#rooms-summary').textContent =
    `${r.sockets} sockets in the fleet (${Object.entries(r.socketsByInstance).map(([i, n]) => `${i}: ${n}`).join(', ') || 'none'}); ` +
    `${r.playerRooms} players with a personal room`;
  fill('#rooms', r.rooms.map((x) => {
    const tr = row([el('td', x.name, 'mono'), num(x.members),
      Object.entries(x.byInstance).map(([i, n]) => `${i}: ${n}`).join(', ')]);
    tr.dataset.room = x.name;
    tr.dataset.members = x.members;
    return tr;
  }), 'no rooms');
}

function renderPlayer(p) {
  state.player = p;
  $('#kick-player').disabled = !p || !p.sockets.length;
  if (!p) { $('#player-summary').textContent = ''; fill('#sockets', []); return; }
  $('#player-summary').textContent = `${p.player}: ${p.sockets.length} socket(s)`;
  fill('#sockets', p.sockets.map((s) => {
    const b = el('button', 'Disconnect', 'danger');
    b.type = 'button';
    b.dataset.sid = s.id;
    b.addEventListener('click', () => act(`/api/admin/sockets/${encodeURIComponent(s.id)}/disconnect`));
    const td = el('td');
    td.append(b);
    const tr = row([el('td', s.id, 'mono'), el('td', s.instance, 'mono'), s.rooms.join(', '), td]);
    tr.dataset.socket = s.id;
    tr.dataset.instance = s.instance;
    return tr;
  }), 'no sockets');
}

function renderBattles(b) {
  if (!b) { $('#battles-summary').textContent = 'the battle mode is not running'; fill('#battles', []); return; }
  $('#battles-summary').textContent = `${b.active} active`;
  fill('#battles', b.battles.map((x) => row([el('td', x.battleId, 'mono'), x.players.join(' vs '), x.state,
    time(x.createdAt), el('td', x.createdBy, 'mono')])), 'no active battles');
}

function renderHunt(h) {
  if (!h) { $('#hunt-map').textContent = 'the hunt mode is not running'; fill('#leaderboard', []); return; }
  const m = h.map;
  $('#hunt-map').textContent = m
    ? `map ${m.mapId} (${m.width}×${m.height}): ${m.claimed}/${m.treasures} treasures claimed, ` +
      `worth ${m.totalValue} in all; expires ${time(m.expiresAt)}; a new map every ${h.mapMs / 1000} s`
    : 'no map yet';
  fill('#leaderboard', h.leaderboard.map((e) => row([num(e.rank), e.player, num(e.score)])), 'no scores yet');
}

// The judges (from the fleet list), the queue and the fleet-wide breaker.
function renderJudge(judges, j) {
  const q = j.queue;
  $('#judge-queue').replaceChildren(
    ...[['queued', q.depth], ['running', q.running], ['oldest wait', `${(q.oldestWaitMs / 1000).toFixed(1)} s`],
      ['dead letters', q.deadLetters], ['breaker', j.breaker.state.replace('_', '-')]].map(([k, v]) => {
      const d = el('div');
      d.dataset.judge = k;
      if (k === 'breaker') d.className = j.breaker.state === 'closed' ? 'ok' : 'bad';
      d.append(el('b', v), el('span', k));
      return d;
    }));
  $('#breaker-summary').textContent = j.breaker.state === 'closed'
    ? 'breaker closed: submissions go to the judges'
    : `breaker ${j.breaker.state.replace('_', '-')} since ${time(j.breaker.openedAt)}` +
      (j.breaker.reason ? ` (${j.breaker.reason})` : '') + ': coding battles pause';
  fill('#judges', judges.map((m) => {
    const tr = row([el('td', m.id, 'mono'), m.version, el('td', m.address || '—', 'mono'),
      num(`${m.jobsRunning}/${m.concurrency}`), num(mb(m.rssBytes)), num(m.cpuSeconds.toFixed(1)),
      num(dur((m.lastSeen - m.startedAt) / 1000)), num(ago(m.lastSeen))]);
    tr.dataset.judge = m.id;
    return tr;
  }), 'no live judges: coding battles pause');
}

// ---------- actions ----------
let lookedUp = '';

async function lookup() {
  if (!lookedUp) { renderPlayer(null); return; }
  renderPlayer(await api(`/api/admin/players/${encodeURIComponent(lookedUp)}/sockets`));
}

async function act(path) {
  try {
    const r = await api(path, 'POST');
    state.lastAction = { path, result: r };
    await lookup();
  } catch (e) {
    showError(e);
  }
}

$('#lookup').addEventListener('submit', (ev) => {
  ev.preventDefault();
  lookedUp = $('#player').value.trim();
  lookup().catch(showError);
});
$('#kick-player').addEventListener('click', () => {
  if (lookedUp) act(`/api/admin/players/${encodeURIComponent(lookedUp)}/disconnect`);
});

// ---------- the loop ----------
function showError(e) {
  if (e instanceof AuthNeeded) { showLogin(e.message); return; }
  state.errors.push(String(e.message || e));
  const b = $('#error');
  b.hidden = false;
  b.textContent = String(e.message || e);
}

let running = false;
async function poll() {
  if (running) return;
  running = true;
  try {
    const [fleet, rooms, battles, hunt, judge] = await Promise.all([
      api('/api/admin/instances'), api('/api/admin/rooms'), api('/api/admin/battles'), api('/api/admin/hunt'),
      api('/api/admin/judge'),
    ]);
    state.instances = fleet;
    state.rooms = rooms;
    state.battles = battles;
    state.hunt = hunt;
    state.judge = judge;
    renderFleet(fleet, rooms.rooms.length);
    renderRooms(rooms);
    renderBattles(battles);
    renderHunt(hunt);
    renderJudge(fleet.judges || [], judge);
    await lookup();
    state.polls++;
    $('#login').hidden = true;
    $('#forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
    $('#error').hidden = true;
    const live = $('#live');
    live.textContent = `live · ${time(Date.now())}`;
    live.className = 'pill ok';
  } catch (e) {
    const live = $('#live');
    live.textContent = e instanceof AuthNeeded ? 'token needed' : 'stale';
    live.className = 'pill bad';
    showError(e);
  } finally {
    running = false;
  }
}

poll();
setInterval(poll, POLL_MS);
