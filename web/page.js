// Shared page helpers: element lookup, the player id, instance colours and paint,
// formatting, the counters, error boxes, the connection pill, and window.arena for tests.

const KEEP = 500; // entries kept in window.arena for tests
const PLAYER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const PLAYER_KEY = 'arena.player';

export const $ = (id) => document.getElementById(id);

// Elements shared by the whole page (header, counters, footer); views look up their own.
export const el = {
  conn: $('conn-state'), instance: $('instance-id'), player: $('player-id'),
  ticks: $('counter-ticks'), sent: $('counter-sent'), received: $('counter-received'),
  clients: $('counter-clients'), uptime: $('counter-uptime'), version: $('server-version'),
};

export const player = loadPlayer();
const counts = { ticks: 0, sent: 0, received: 0 };

// Read by the browser tests. Views add their own fields (the hunt adds `hunt`).
export const arena = window.arena = { ready: false, instanceId: null, player, ticks: [], attacks: [] };

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
export function instanceHue(id) {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  let hue = (h >>> 0) % (360 - 2 * HUE_GAP);
  if (hue >= ACCENT_HUE - HUE_GAP) hue += 2 * HUE_GAP;
  return hue;
}

// Paints any element that names an instance: own instance gets the accent.
export function paint(node, instanceId) {
  const own = instanceId != null && instanceId === arena.instanceId;
  node.classList.toggle('own', own);
  if (own || instanceId == null) node.style.removeProperty('--hue');
  else node.style.setProperty('--hue', String(instanceHue(instanceId)));
}

// Repaints every element marked with data-instance (after this tab learns its instance).
export function repaintAll() {
  for (const node of document.querySelectorAll('[data-instance]')) paint(node, node.dataset.instance);
}

// The connection pill; views enable their own controls from the socket's 'state' event.
export function setState(state, retryMs) {
  el.conn.dataset.state = state;
  el.conn.textContent = state;
  el.conn.title = state === 'reconnecting' && retryMs ? `next try in ${(retryMs / 1000).toFixed(1)} s` : '';
}

export function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

export function fmtDuration(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

// Adds one to a counter in the top row: 'ticks', 'sent' or 'received'.
export function bump(name) {
  counts[name] += 1;
  el[name].textContent = counts[name].toLocaleString();
}

// Appends to a window.arena list, keeping only the newest KEEP entries.
export function keep(list, item) {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}

// Shows "<action> failed: <code> — message" in an error box; `detail` replaces the message part.
export function showError(box, action, res, detail) {
  const err = (res && res.error) || {};
  box.textContent = '';
  const code = document.createElement('code');
  code.textContent = err.code || 'error';
  box.append(`${action} failed: `, code, detail ?? (err.message ? ` — ${err.message}` : ''));
  box.dataset.code = err.code || 'error';
  box.hidden = false;
}

export function clearError(box) {
  box.hidden = true;
  box.textContent = '';
  delete box.dataset.code;
}
