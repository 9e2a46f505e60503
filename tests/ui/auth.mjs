// Token auth with the STOCK socket.io-client (v4), over WebSocket and over long-polling
// with upgrade: a valid token connects as its player; an expired or missing token gets
// `connect_error` whose message starts with the stable code.
//
//   ARENA_URL=http://127.0.0.1:3000 ARENA_TOKEN=<alice> ARENA_EXPIRED_TOKEN=<old> node auth.mjs
//
// Exit 0 when every check passed, 1 otherwise. Every wait is bounded.

import { io } from 'socket.io-client';

const WAIT_MS = 5000;
const url = process.env.ARENA_URL;
const token = process.env.ARENA_TOKEN;
const expired = process.env.ARENA_EXPIRED_TOKEN;
const player = process.env.ARENA_PLAYER;
if (!url || !token || !expired || !player) {
  console.error('auth: set ARENA_URL, ARENA_TOKEN, ARENA_EXPIRED_TOKEN and ARENA_PLAYER');
  process.exit(1);
}

let failed = 0;
function check(cond, msg, detail) {
  if (cond) console.log(`ok   - ${msg}`);
  else { failed++; console.log(`FAIL - ${msg}${detail === undefined ? '' : `: got ${JSON.stringify(detail)}`}`); }
}

// Connect with `auth`; resolve {welcome} or {error} (the connect_error), or {timeout}.
function attempt(auth, transports) {
  return new Promise((resolve) => {
    const s = io(url, { auth, transports, reconnection: false, forceNew: true, timeout: WAIT_MS });
    const done = (r) => { clearTimeout(t); s.close(); resolve(r); };
    const t = setTimeout(() => done({ timeout: true }), WAIT_MS);
    s.on('welcome', (w) => done({ welcome: w, transport: s.io.engine.transport.name }));
    s.on('connect_error', (e) => done({ error: e }));
  });
}

for (const transports of [['websocket'], ['polling', 'websocket']]) {
  const via = transports.join('+');
  const ok = await attempt({ token }, transports);
  check(ok.welcome && ok.welcome.player === player, `${via}: a valid token connects as ${player}`, ok.welcome || ok.error?.message);
  const old = await attempt({ token: expired }, transports);
  check(old.error && old.error.message.startsWith('token_expired:'), `${via}: an expired token is refused with token_expired`, old.error?.message || old);
  const none = await attempt({}, transports);
  check(none.error && none.error.message.startsWith('unauthorized:'), `${via}: no token is refused with unauthorized`, none.error?.message || none);
  const other = await attempt({ token, player: 'someone-else' }, transports);
  check(other.error && other.error.message.startsWith('unauthorized:'), `${via}: a token cannot act as another player`, other.error?.message || other);
}

console.log(failed === 0 ? 'auth: all checks passed' : `auth: ${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
