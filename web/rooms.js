// The ticks, rooms and attacks view: the tick strip and legend, the room and
// attack forms with their error box, and the attack log. mountRooms(socket) wires it.

import { $, arena, player, paint, fmtTime, bump, keep, showError, clearError } from './page.js';

const STRIP_LENGTH = 40;
const LOG_LENGTH = 100;

const el = {
  strip: $('tick-strip'), legend: $('tick-legend'), latest: $('tick-latest'),
  roomForm: $('room-form'), room: $('room-input'), join: $('join-btn'), leave: $('leave-btn'),
  attackForm: $('attack-form'), damage: $('damage-input'), attack: $('attack-btn'),
  joined: $('joined-rooms'), log: $('attack-log'), empty: $('attack-empty'), error: $('error'),
};

const joined = new Set(); // rooms we want to be in; re-joined after a reconnect
let socket = null;

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

function setOnline(online) {
  for (const b of [el.join, el.leave, el.attack]) b.disabled = !online;
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
      if (!quiet) clearError(el.error);
    } else {
      joined.delete(room);
      showError(el.error, `join ${room}`, res);
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

// --- wiring ----------------------------------------------------------------

export function mountRooms(s) {
  socket = s;
  socket.on('state', (state) => setOnline(state === 'connected'));
  // The server forgets rooms with the old connection; ask for them again.
  socket.on('connect', () => { for (const room of joined) joinRoom(room, true); });
  socket.on('connect_error', (err) => showError(el.error, 'connect', { error: { code: 'connect_error', message: err.message } }));
  socket.on('welcome', renderLegend); // the legend lists this tab's instance first
  socket.on('server_tick', addTick);
  socket.on('attack', addAttack);

  el.roomForm.addEventListener('submit', (e) => {
    e.preventDefault();
    joinRoom(currentRoom(), false);
  });

  el.leave.addEventListener('click', () => {
    const room = currentRoom();
    socket.emit('leave_room', { room }, (res) => {
      if (res && res.ok) {
        joined.delete(room);
        clearError(el.error);
      } else {
        showError(el.error, `leave ${room}`, res);
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
        clearError(el.error);
      } else {
        showError(el.error, `attack ${room}`, res);
      }
    });
  });

  setOnline(false);
  renderJoined();
}
