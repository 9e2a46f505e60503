// The treasure hunt view: the live map grid, tile claims, the leaderboard and
// arena.hunt for tests. mountHunt(socket) wires it; loadHuntBoard() fetches the board once.

import { $, arena, player, instanceHue, keep, showError } from './page.js';

const HUNT_ROOM = 'hunt';
const huntEl = {
  grid: $('hunt-grid'), info: $('hunt-map-info'), status: $('hunt-status'), error: $('hunt-error'),
  board: $('hunt-board'), boardEmpty: $('hunt-board-empty'), follow: $('hunt-follow'),
};
let socket = null;
let huntNext = null; // the newest map not shown yet (when not following every map)
// Read by tests: the current map, every tile_claimed seen, the last leaderboard.
arena.hunt = { map: null, claims: [], board: [] };
let huntExpiryTimer = null;
// One button per tile: past this many (HUNT_MAP_WIDTH x HUNT_MAP_HEIGHT can reach 16M, for
// load tests) the page says so instead of building a grid the browser cannot lay out.
const MAX_DRAWN_TILES = 4096;

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
  const drawn = map.width * map.height <= MAX_DRAWN_TILES;
  for (let tile = 0; drawn && tile < map.width * map.height; tile++) {
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
  huntEl.info.textContent = `Map #${map.mapId}: ${Object.keys(map.treasures).length} treasures worth ${total}.`
    + (drawn ? '' : ` ${map.width}×${map.height} tiles: too many to draw here.`);
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
  const taken = err.code === 'tile_taken' && err.owner
    ? ` — already claimed by ${err.owner === player ? 'you' : err.owner}` : undefined;
  showError(huntEl.error, action, res, taken);
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

export async function loadHuntBoard() {
  try {
    const res = await fetch('/api/hunt/leaderboard?limit=10', { cache: 'no-store' });
    if (res.ok) renderHuntBoard(await res.json());
  } catch { /* the live broadcast fills it in */ }
}

// --- wiring ----------------------------------------------------------------

export function mountHunt(s) {
  socket = s;
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

  huntEl.grid.addEventListener('click', (e) => {
    const node = e.target.closest('.tile');
    if (node && !node.disabled) claimTile(node);
  });
}
