'use strict';

// ---------------------------------------------------------------------------
// A tiny Socket.IO v4 client (Engine.IO v4, WebSocket transport only).
// The page ships no third-party code, so this speaks just the part of the
// protocol arena uses: connect with auth, events, acks, ping/pong, reconnect.
// ---------------------------------------------------------------------------

class ArenaSocket {
  constructor(auth) {
    this.auth = auth;
    this.handlers = new Map();
    this.acks = new Map(); // ack id -> {fn, timer}
    this.nextAckId = 0;
    this.ws = null;
    this.connected = false;
    this.attempt = 0;
    this.pingTimer = null;
    this.retryTimer = null;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  // Returns false when not connected; the ack (if any) then gets a local error
  // so callers handle "offline" the same way as a server-side refusal.
  emit(event, data, ackFn) {
    if (!this.connected) {
      if (ackFn) queueMicrotask(() => ackFn(localError('disconnected', 'not connected to the server')));
      return false;
    }
    let id = '';
    if (ackFn) {
      id = String(this.nextAckId++);
      const timer = setTimeout(() => this.settle(id, [localError('timeout', 'no answer from the server')]), 10000);
      this.acks.set(id, { fn: ackFn, timer });
    }
    this.send('42' + id + JSON.stringify([event, data]));
    return true;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.fire('state', this.attempt === 0 ? 'connecting' : 'reconnecting');
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(proto + '://' + location.host + '/socket.io/?EIO=4&transport=websocket');
    this.ws = ws;
    ws.onmessage = (e) => { if (this.ws === ws) this.onEnginePacket(String(e.data)); };
    ws.onclose = () => this.drop(ws);
    ws.onerror = () => {}; // a close event always follows
  }

  send(raw) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(raw);
  }

  fire(event, ...args) {
    for (const fn of this.handlers.get(event) || []) {
      try { fn(...args); } catch (err) { console.error('handler for', event, 'failed:', err); }
    }
  }

  settle(id, args) {
    const pending = this.acks.get(id);
    if (!pending) return;
    this.acks.delete(id);
    clearTimeout(pending.timer);
    pending.fn(...args);
  }

  // The server pings every pingInterval; silence past pingInterval+pingTimeout
  // means a dead link that the browser may take minutes to notice by itself.
  armHeartbeat() {
    clearTimeout(this.pingTimer);
    const hb = this.heartbeat || { pingInterval: 25000, pingTimeout: 20000 };
    const ws = this.ws;
    this.pingTimer = setTimeout(() => { ws.close(); this.drop(ws); }, hb.pingInterval + hb.pingTimeout);
  }

  onEnginePacket(data) {
    switch (data[0]) {
      case '0': // open handshake: now ask for the default namespace
        this.heartbeat = JSON.parse(data.slice(1));
        this.armHeartbeat();
        this.send('40' + JSON.stringify(this.auth));
        break;
      case '1': this.ws.close(); break;
      case '2': this.armHeartbeat(); this.send('3'); break;
      case '4': this.onSocketPacket(data.slice(1)); break;
      default: break; // '3' pong and '6' noop need nothing
    }
  }

  onSocketPacket(p) {
    const type = p[0];
    let i = 1;
    if (p[i] === '/') { // explicit namespace: only the default one is ours
      const comma = p.indexOf(',', i);
      const nsp = p.slice(i, comma < 0 ? p.length : comma);
      if (nsp !== '/') return;
      i = comma < 0 ? p.length : comma + 1;
    }
    let id = '';
    while (i < p.length && p[i] >= '0' && p[i] <= '9') id += p[i++];
    let body;
    try { body = i < p.length ? JSON.parse(p.slice(i)) : undefined; } catch (err) {
      console.warn('unparsable socket.io packet', p, err);
      return;
    }
    switch (type) {
      case '0': // CONNECT accepted
        this.connected = true;
        this.attempt = 0;
        this.sid = body && body.sid;
        this.fire('state', 'connected');
        this.fire('connect');
        break;
      case '1': this.ws.close(); break; // server-side disconnect
      case '2': { // EVENT, possibly asking for an ack
        const [name, ...args] = Array.isArray(body) ? body : [];
        if (id) args.push((...reply) => this.send('43' + id + JSON.stringify(reply)));
        this.fire(name, ...args);
        break;
      }
      case '3': this.settle(id, Array.isArray(body) ? body : [body]); break;
      case '4': // CONNECT_ERROR: e.g. the server refused our auth
        this.fire('connect_error', body || {});
        this.ws.close();
        break;
      default: console.warn('ignoring socket.io packet type', type); // binary: unused here
    }
  }

  drop(ws) {
    if (ws !== this.ws) return; // an older socket finishing its close
    this.ws = null;
    clearTimeout(this.pingTimer);
    const wasConnected = this.connected;
    this.connected = false;
    for (const id of [...this.acks.keys()]) this.settle(id, [localError('disconnected', 'connection lost')]);
    if (wasConnected) this.fire('disconnect');
    // Exponential backoff with jitter so a restarted instance is not stampeded.
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.fire('state', 'reconnecting', Math.round(delay));
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

function localError(code, message) {
  return { ok: false, error: { code, message } };
}

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

const STRIP_LENGTH = 40;
const LOG_LENGTH = 100;
const KEEP = 500; // entries kept in window.arena for tests
const PLAYER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const PLAYER_KEY = 'arena.player';

const $ = (id) => document.getElementById(id);
const el = {
  conn: $('conn-state'), instance: $('instance-id'), player: $('player-id'),
  strip: $('tick-strip'), legend: $('tick-legend'), latest: $('tick-latest'),
  roomForm: $('room-form'), room: $('room-input'), join: $('join-btn'), leave: $('leave-btn'),
  attackForm: $('attack-form'), damage: $('damage-input'), attack: $('attack-btn'),
  joined: $('joined-rooms'), log: $('attack-log'), empty: $('attack-empty'), error: $('error'),
  ticks: $('counter-ticks'), sent: $('counter-sent'), received: $('counter-received'),
  clients: $('counter-clients'), uptime: $('counter-uptime'), version: $('server-version'),
};

const player = loadPlayer();
const joined = new Set(); // rooms we want to be in; re-joined after a reconnect
const counts = { ticks: 0, sent: 0, received: 0 };

// Read by the browser tests.
const arena = window.arena = { ready: false, instanceId: null, player, ticks: [], attacks: [] };

function loadPlayer() {
  try {
    const saved = localStorage.getItem(PLAYER_KEY);
    if (saved && PLAYER_RE.test(saved)) return saved;
  } catch { /* storage may be disabled; a per-load id still works */ }
  const bytes = crypto.getRandomValues(new Uint8Array(3));
  const id = 'p-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  try { localStorage.setItem(PLAYER_KEY, id); } catch { /* see above */ }
  return id;
}

// A stable hue per instance id. The band around the accent's hue is skipped so
// another instance never looks like this tab's own.
const ACCENT_HUE = 265;
const HUE_GAP = 30;
function instanceHue(id) {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  let hue = (h >>> 0) % (360 - 2 * HUE_GAP);
  if (hue >= ACCENT_HUE - HUE_GAP) hue += 2 * HUE_GAP;
  return hue;
}

// Paints any element that names an instance: own instance gets the accent.
function paint(node, instanceId) {
  const own = instanceId != null && instanceId === arena.instanceId;
  node.classList.toggle('own', own);
  if (own || instanceId == null) node.style.removeProperty('--hue');
  else node.style.setProperty('--hue', String(instanceHue(instanceId)));
}

function repaintAll() {
  for (const node of document.querySelectorAll('[data-instance]')) paint(node, node.dataset.instance);
  renderLegend();
}

function setState(state, retryMs) {
  el.conn.dataset.state = state;
  el.conn.textContent = state;
  el.conn.title = state === 'reconnecting' && retryMs ? `next try in ${(retryMs / 1000).toFixed(1)} s` : '';
  const online = state === 'connected';
  for (const b of [el.join, el.leave, el.attack]) b.disabled = !online;
}

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function fmtDuration(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function bump(name) {
  counts[name] += 1;
  el[name].textContent = counts[name].toLocaleString();
}

function keep(list, item) {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}

// --- ticks -----------------------------------------------------------------

function addTick(t) {
  if (!t || typeof t !== 'object') return;
  const instanceId = String(t.instanceId ?? '?');
  keep(arena.ticks, { tick: t.tick, instanceId, at: t.at });
  bump('ticks');

  // A repeated tick number means two instances both claimed one interval:
  // flag it rather than hide it, since that is exactly the bug to spot.
  const dup = el.strip.querySelector(`[data-tick="${CSS.escape(String(t.tick))}"]`) !== null;
  const li = document.createElement('li');
  li.className = 'tick' + (dup ? ' dup' : '');
  li.dataset.tick = String(t.tick);
  li.dataset.instance = instanceId;
  const who = instanceId === arena.instanceId ? `${instanceId} (this tab's instance)` : instanceId;
  li.title = `tick ${t.tick} won by ${who}` + (t.at ? ` at ${fmtTime(t.at)}` : '') + (dup ? ' (duplicate!)' : '');
  li.setAttribute('aria-label', li.title);
  paint(li, instanceId);
  el.strip.append(li);
  while (el.strip.children.length > STRIP_LENGTH) el.strip.firstElementChild.remove();
  el.latest.textContent = `Latest: #${t.tick}`;
  renderLegend();
}

function renderLegend() {
  const wins = new Map();
  for (const li of el.strip.children) wins.set(li.dataset.instance, (wins.get(li.dataset.instance) || 0) + 1);
  if (arena.instanceId && !wins.has(arena.instanceId)) wins.set(arena.instanceId, 0);
  const items = [...wins].sort(([a], [b]) => (b === arena.instanceId) - (a === arena.instanceId) || a.localeCompare(b));
  el.legend.replaceChildren(...items.map(([id, n]) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    paint(sw, id);
    const name = document.createElement('code');
    name.textContent = id;
    const note = document.createElement('span');
    note.className = 'muted';
    note.textContent = (id === arena.instanceId ? 'this tab · ' : '') + `${n} of ${el.strip.children.length}`;
    li.append(sw, name, note);
    return li;
  }));
}

// --- rooms and attacks -----------------------------------------------------

function showError(action, res) {
  const err = (res && res.error) || {};
  el.error.textContent = '';
  const code = document.createElement('code');
  code.textContent = err.code || 'error';
  el.error.append(`${action} failed: `, code, err.message ? ` — ${err.message}` : '');
  el.error.dataset.code = err.code || 'error';
  el.error.hidden = false;
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = '';
  delete el.error.dataset.code;
}

function renderJoined() {
  el.joined.textContent = joined.size ? [...joined].join(', ') : 'none';
}

function currentRoom() {
  return el.room.value.trim();
}

function joinRoom(room, quiet) {
  socket.emit('join_room', { room }, (res) => {
    if (res && res.ok) {
      joined.add(room);
      if (!quiet) clearError();
    } else {
      joined.delete(room);
      showError(`join ${room}`, res);
    }
    renderJoined();
  });
}

function addAttack(a) {
  if (!a || typeof a !== 'object') return;
  keep(arena.attacks, a);
  bump('received');

  const { room, damage, from, instanceId, ...extra } = a;
  const li = document.createElement('li');
  li.className = 'attack' + (from === player ? ' mine' : '');
  li.dataset.from = String(from ?? '');
  li.dataset.instance = String(instanceId ?? '');
  li.dataset.room = String(room ?? '');
  paint(li, li.dataset.instance); // the left border shows the instance

  const line = document.createElement('div');
  line.className = 'attack-line';
  const who = document.createElement('strong');
  who.className = 'from';
  who.textContent = from === player ? `${from} (you)` : String(from);
  const dmg = document.createElement('span');
  dmg.className = 'damage';
  dmg.textContent = String(damage);
  dmg.title = 'damage';
  const where = document.createElement('span');
  where.className = 'room';
  where.textContent = '#' + String(room);
  const time = document.createElement('time');
  time.textContent = fmtTime(Date.now());
  line.append(who, ' hit ', dmg, ' in ', where, time);

  const meta = document.createElement('div');
  meta.className = 'attack-meta';
  const via = document.createElement('span');
  via.className = 'via';
  const sw = document.createElement('span');
  sw.className = 'swatch';
  sw.dataset.instance = li.dataset.instance; // so repaintAll recolors it
  paint(sw, li.dataset.instance);
  via.append('via ', sw, String(instanceId));
  meta.append(via);
  if (Object.keys(extra).length) {
    const ex = document.createElement('code');
    ex.className = 'extra';
    const text = JSON.stringify(extra);
    ex.textContent = text.length > 160 ? text.slice(0, 157) + '…' : text;
    ex.title = text.length > 2000 ? text.slice(0, 2000) + '…' : text;
    meta.append(ex);
  }
  li.append(line, meta);
  el.log.prepend(li);
  while (el.log.children.length > LOG_LENGTH) el.log.lastElementChild.remove();
  el.empty.hidden = true;
}

// --- treasure hunt ---------------------------------------------------------

const HUNT_ROOM = 'hunt';
const huntEl = {
  grid: $('hunt-grid'), info: $('hunt-map-info'), status: $('hunt-status'), error: $('hunt-error'),
  board: $('hunt-board'), boardEmpty: $('hunt-board-empty'), follow: $('hunt-follow'),
};
let huntNext = null; // the newest map not shown yet (when not following every map)
// Read by tests: the current map, every tile_claimed seen, the last leaderboard.
arena.hunt = { map: null, claims: [], board: [] };
let huntExpiryTimer = null;

function tileNode(tile) {
  return huntEl.grid.querySelector(`[data-tile="${CSS.escape(String(tile))}"]`);
}

function tileTitle(map, tile, owner) {
  const x = tile % map.width, y = Math.floor(tile / map.width);
  const value = Number(map.treasures[String(tile)] || 0);
  let t = `tile ${tile} (x ${x}, y ${y}) · ${value ? value + ' pts' : 'no treasure'}`;
  if (owner) t += ` · claimed by ${owner === player ? 'you' : owner}`;
  return t;
}

function paintOwner(node, owner) {
  node.classList.add('claimed');
  node.classList.remove('pending');
  node.classList.toggle('mine', owner === player);
  node.dataset.owner = owner;
  node.style.setProperty('--hue', String(instanceHue(owner)));
  node.disabled = true;
  node.title = tileTitle(arena.hunt.map, Number(node.dataset.tile), owner);
  node.setAttribute('aria-label', node.title);
}

function showHuntMap(map) {
  if (!map || typeof map !== 'object' || !Number.isInteger(map.width) || !Number.isInteger(map.height)) return;
  const cur = arena.hunt.map;
  if (cur && map.mapId < cur.mapId) return; // a late, older map
  if (cur && !huntEl.follow.checked && Number(cur.expiresAt) > Date.now()) {
    huntNext = map; // shown when the current one expires
    return;
  }
  huntNext = null;
  arena.hunt.map = map;
  map.treasures = map.treasures || {};
  huntEl.grid.style.setProperty('--cols', String(map.width));
  huntEl.grid.classList.remove('expired');
  const tiles = [];
  for (let tile = 0; tile < map.width * map.height; tile++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tile';
    b.dataset.tile = String(tile);
    const value = Number(map.treasures[String(tile)] || 0);
    if (value) {
      b.classList.add('treasure');
      b.textContent = String(value);
    }
    b.title = tileTitle(map, tile, null);
    b.setAttribute('aria-label', b.title);
    b.disabled = !socket.connected;
    tiles.push(b);
  }
  huntEl.grid.replaceChildren(...tiles);
  const total = Object.values(map.treasures).reduce((a, v) => a + Number(v || 0), 0);
  huntEl.info.textContent = `Map #${map.mapId}: ${Object.keys(map.treasures).length} treasures worth ${total}.`;
  clearTimeout(huntExpiryTimer);
  const left = Number(map.expiresAt) - Date.now();
  huntExpiryTimer = setTimeout(() => {
    if (arena.hunt.map === map) {
      huntEl.grid.classList.add('expired');
      huntEl.info.textContent = `Map #${map.mapId} has expired; waiting for the next one.`;
      if (huntNext) showHuntMap(huntNext);
    }
  }, Math.max(0, left));
}

function onTileClaimed(d) {
  if (!d || typeof d !== 'object') return;
  keep(arena.hunt.claims, d);
  const map = arena.hunt.map;
  if (!map || d.mapId !== map.mapId) return;
  const node = tileNode(d.tile);
  if (node) paintOwner(node, String(d.player));
}

function showHuntError(action, res) {
  const err = (res && res.error) || {};
  huntEl.error.textContent = '';
  const code = document.createElement('code');
  code.textContent = err.code || 'error';
  let msg = err.message ? ` — ${err.message}` : '';
  if (err.code === 'tile_taken' && err.owner) msg = ` — already claimed by ${err.owner === player ? 'you' : err.owner}`;
  huntEl.error.append(`${action} failed: `, code, msg);
  huntEl.error.dataset.code = err.code || 'error';
  huntEl.error.hidden = false;
}

function claimTile(node) {
  const map = arena.hunt.map;
  if (!map || node.classList.contains('claimed')) return;
  const tile = Number(node.dataset.tile);
  node.classList.add('pending');
  socket.emit('claim', { mapId: map.mapId, tile }, (res) => {
    node.classList.remove('pending');
    if (res && res.ok) {
      huntEl.error.hidden = true;
      if (node.isConnected) paintOwner(node, player);
      huntEl.status.textContent = `You claimed tile ${tile} of map #${map.mapId}: +${res.value ?? 0}`;
    } else {
      showHuntError(`claim of tile ${tile}`, res);
      if (res && res.error && res.error.code === 'tile_taken' && res.error.owner && node.isConnected) {
        paintOwner(node, String(res.error.owner));
      }
    }
  });
}

function renderHuntBoard(b) {
  const entries = (b && Array.isArray(b.entries)) ? b.entries : [];
  arena.hunt.board = entries;
  huntEl.board.replaceChildren(...entries.map((e) => {
    const li = document.createElement('li');
    li.className = e.player === player ? 'mine' : '';
    li.dataset.player = String(e.player);
    const rank = document.createElement('span');
    rank.className = 'rank';
    rank.textContent = `#${e.rank}`;
    const sw = document.createElement('span');
    sw.className = 'swatch';
    if (e.player === player) sw.classList.add('own');
    else sw.style.setProperty('--hue', String(instanceHue(String(e.player))));
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = e.player === player ? `${e.player} (you)` : String(e.player);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = Number(e.score).toLocaleString();
    li.append(rank, sw, who, score);
    return li;
  }));
  huntEl.boardEmpty.hidden = entries.length > 0;
}

function setHuntOnline(online) {
  for (const b of huntEl.grid.querySelectorAll('.tile:not(.claimed)')) b.disabled = !online;
}

async function loadHuntBoard() {
  try {
    const res = await fetch('/api/hunt/leaderboard?limit=10', { cache: 'no-store' });
    if (res.ok) renderHuntBoard(await res.json());
  } catch { /* the live broadcast fills it in */ }
}

huntEl.grid.addEventListener('click', (e) => {
  const node = e.target.closest('.tile');
  if (node && !node.disabled) claimTile(node);
});

// --- /status ---------------------------------------------------------------

async function pollStatus() {
  try {
    const res = await fetch('/status', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = await res.json();
    el.clients.textContent = String(s.connectedClients ?? '—');
    el.uptime.textContent = typeof s.uptimeSeconds === 'number' ? fmtDuration(s.uptimeSeconds) : '—';
    el.version.textContent = `arena ${s.version ?? ''} · instance ${s.instanceId ?? '?'} · pid ${s.pid ?? '?'}`;
    el.clients.parentElement.classList.remove('stale');
  } catch {
    // Keep the last numbers but mark them stale: the instance may be restarting.
    el.clients.parentElement.classList.add('stale');
  } finally {
    setTimeout(pollStatus, 2000);
  }
}

// --- wiring ----------------------------------------------------------------

const socket = new ArenaSocket({ player });

socket.on('state', setState);
socket.on('connect', () => {
  arena.ready = true;
  // The server forgets rooms with the old connection; ask for them again.
  for (const room of joined) joinRoom(room, true);
});
socket.on('disconnect', () => { arena.ready = false; });
socket.on('connect_error', (err) => showError('connect', { error: { code: 'connect_error', message: err.message } }));
socket.on('welcome', (w) => {
  arena.instanceId = w && w.instanceId ? String(w.instanceId) : null;
  el.instance.textContent = arena.instanceId || '?';
  el.instance.title = `socket ${w && w.socketId}`;
  repaintAll();
});
socket.on('server_tick', addTick);
socket.on('attack', addAttack);
socket.on('map_created', showHuntMap);
socket.on('tile_claimed', onTileClaimed);
socket.on('leaderboard', renderHuntBoard);
// The hunt view watches its own room (kept apart from the rooms joined by hand).
socket.on('connect', () => {
  setHuntOnline(true);
  socket.emit('join_room', { room: HUNT_ROOM }, (res) => {
    if (!(res && res.ok)) showHuntError('joining the hunt', res);
  });
});
socket.on('disconnect', () => setHuntOnline(false));

el.roomForm.addEventListener('submit', (e) => {
  e.preventDefault();
  joinRoom(currentRoom(), false);
});

el.leave.addEventListener('click', () => {
  const room = currentRoom();
  socket.emit('leave_room', { room }, (res) => {
    if (res && res.ok) {
      joined.delete(room);
      clearError();
    } else {
      showError(`leave ${room}`, res);
    }
    renderJoined();
  });
});

el.attackForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const n = el.damage.valueAsNumber;
  // Forms are novalidate: whatever was typed is sent and the server judges it,
  // so its error codes show up here exactly as other clients would get them.
  const damage = Number.isFinite(n) ? n : el.damage.value;
  const room = currentRoom();
  socket.emit('attack', { room, damage }, (res) => {
    if (res && res.ok) {
      bump('sent');
      clearError();
    } else {
      showError(`attack ${room}`, res);
    }
  });
});

el.player.textContent = player;
el.player.title = 'Your player id (kept in this browser)';
setState('connecting');
renderJoined();
socket.connect();
pollStatus();
loadHuntBoard();
