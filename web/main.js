// The page's entry point (loaded as an ES module by index.html): creates the
// socket, wires the page-wide state to it, mounts each view, then starts everything.

import { ArenaSocket } from './socket.js';
import { el, arena, player, setState, repaintAll } from './page.js';
import { mountRooms } from './rooms.js';
import { mountHunt, loadHuntBoard } from './hunt.js';
import { pollStatus } from './status.js';

const socket = new ArenaSocket({ player });

// Page-wide handlers go first: views' handlers for the same event run after them.
socket.on('state', setState);
socket.on('connect', () => { arena.ready = true; });
socket.on('disconnect', () => { arena.ready = false; });
socket.on('welcome', (w) => {
  arena.instanceId = w && w.instanceId ? String(w.instanceId) : null;
  el.instance.textContent = arena.instanceId || '?';
  el.instance.title = `socket ${w && w.socketId}`;
  repaintAll();
});

// Views, in page order. A new view is one more file and one more line here.
mountRooms(socket);
mountHunt(socket);

el.player.textContent = player;
el.player.title = 'Your player id (kept in this browser)';
setState('connecting');
socket.connect();
pollStatus();
loadHuntBoard();
