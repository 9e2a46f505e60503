// Checks arena against the STOCK socket.io-client (v4): if this passes, any
// ordinary Socket.IO v4 client can talk to arena.
//
//   ARENA_URLS=http://127.0.0.1:4700,http://127.0.0.1:4701 node compat.mjs
//
// Exit 0 when every check passed, 1 otherwise. Every wait is bounded.

import { io } from 'socket.io-client';
import { isDeepStrictEqual, inspect } from 'node:util';

const WAIT_MS = Number(process.env.COMPAT_WAIT_MS || 5000);
const QUIET_MS = 500; // how long "receives nothing" is watched
const HARD_LIMIT_MS = Number(process.env.COMPAT_HARD_LIMIT_MS || 90000);

const urls = (process.env.ARENA_URLS || '').split(',').map((s) => s.trim()).filter(Boolean);
if (urls.length === 0) {
  console.error('compat: ARENA_URLS is not set (comma-separated base URLs of two arena instances)');
  process.exit(1);
}
const url1 = urls[0];
const url2 = urls[1] || urls[0];
if (urls.length < 2) console.log(`compat: only one URL given; b and c also use ${url1}`);

const rand = Math.random().toString(36).slice(2, 8);
const room = `compat-${rand}`;
const players = { a: `compat-a-${rand}`, b: `compat-b-${rand}`, c: `compat-c-${rand}` };

let passed = 0;
let failed = 0;
const sockets = [];

function pass(msg) { passed++; console.log(`ok   - ${msg}`); }
function fail(msg) { failed++; console.log(`FAIL - ${msg}`); }
function check(cond, msg, detail) {
  if (cond) pass(msg);
  else fail(detail === undefined ? msg : `${msg}: got ${show(detail)}`);
  return cond;
}
function errText(e) {
  if (!e) return `no connection within ${WAIT_MS} ms`;
  const cause = e.description && (e.description.message || (e.description.error && e.description.error.message));
  return `${e.message}${cause ? ` (${cause})` : ''}`;
}
function show(v) { return inspect(v, { depth: 4, breakLength: Infinity, maxStringLength: 120 }); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with the value of poll() once truthy, or null after ms.
async function waitFor(poll, ms = WAIT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = poll();
    if (v) return v;
    if (Date.now() >= end) return null;
    await sleep(20);
  }
}

function finish() {
  for (const s of sockets) s.disconnect();
  console.log(`compat: ${passed} checks ok, ${failed} failing`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// A last resort so a hung server can never hang the caller.
setTimeout(() => { fail(`overall limit of ${HARD_LIMIT_MS} ms reached`); finish(); }, HARD_LIMIT_MS).unref();

// Connects and collects welcome + attack events; resolves once connected.
function client(name, url, auth) {
  const s = io(url, { transports: ['websocket'], auth, reconnection: false, timeout: WAIT_MS, forceNew: true });
  sockets.push(s);
  const c = { name, s, welcome: null, attacks: [], connectError: null, disconnects: [] };
  s.on('welcome', (w) => { c.welcome = w; });
  s.on('attack', (a) => { c.attacks.push(a); });
  s.on('connect_error', (e) => { c.connectError = e; });
  s.on('disconnect', (reason) => { c.disconnects.push(reason); });
  return c;
}

async function ack(c, event, payload) {
  try {
    return await c.s.timeout(WAIT_MS).emitWithAck(event, payload);
  } catch (err) {
    return { noAck: String(err && err.message ? err.message : err) };
  }
}

async function expectOk(c, event, payload, what) {
  const res = await ack(c, event, payload);
  return check(res && res.ok === true, `${what} -> ok:true`, res);
}

async function expectError(c, event, payload, code, what) {
  const res = await ack(c, event, payload);
  const good = res && res.ok === false && res.error && res.error.code === code && typeof res.error.message === 'string';
  check(good, `${what} -> ok:false, code '${code}'`, res);
  // The refusal must not have cost the connection.
  const again = await ack(c, 'join_room', { room });
  check(again && again.ok === true && c.s.connected, `  ...and ${c.name}'s connection still works afterwards`, again);
}

async function getStatus(url) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), WAIT_MS);
  try {
    const res = await fetch(new URL('/status', url), { signal: ctl.signal });
    return { http: res.status, type: res.headers.get('content-type'), body: await res.json() };
  } catch (err) {
    return { error: String(err) };
  } finally {
    clearTimeout(t);
  }
}

async function main() {
  // --- connect ---------------------------------------------------------------
  const a = client('a', url1, { player: players.a });
  const b = client('b', url2, { player: players.b });
  const c = client('c', url2, { player: players.c });
  for (const x of [a, b, c]) {
    await waitFor(() => x.s.connected || x.connectError);
    if (!check(x.s.connected, `${x.name} connects to ${x.s.io.uri}`, errText(x.connectError))) return;
  }
  for (const x of [a, b, c]) {
    await waitFor(() => x.welcome);
    const w = x.welcome;
    check(w && typeof w.instanceId === 'string' && w.instanceId.length > 0 && w.socketId === x.s.id,
      `${x.name} gets welcome {instanceId, socketId = its socket id ${x.s.id}}`, w);
  }
  if (!a.welcome || !b.welcome) return;
  if (urls.length >= 2) {
    check(a.welcome.instanceId !== b.welcome.instanceId,
      `the two URLs are different instances (${a.welcome.instanceId} vs ${b.welcome.instanceId})`, [a.welcome.instanceId, b.welcome.instanceId]);
  }

  // --- /status -----------------------------------------------------------------
  for (const [url, x] of [[url1, a], [url2, b]]) {
    const st = await getStatus(url);
    const s = st.body || {};
    check(st.http === 200 && /json/.test(st.type || '') && s.instanceId === x.welcome.instanceId &&
      Number.isInteger(s.pid) && typeof s.uptimeSeconds === 'number' && typeof s.version === 'string' &&
      Number.isInteger(s.connectedClients) && s.connectedClients >= 1,
      `GET ${url}/status is JSON {instanceId matching welcome, pid, uptimeSeconds, connectedClients >= 1, version}`, st);
  }

  // --- rooms and cross-instance attack -----------------------------------------
  if (!(await expectOk(a, 'join_room', { room }, `a join_room {room: '${room}'}`))) return;
  if (!(await expectOk(b, 'join_room', { room }, `b join_room {room: '${room}'}`))) return;

  const sent = { room, damage: 7, combo: [1, 2], note: 'hi', id: 'compat-1' };
  await expectOk(a, 'attack', sent, 'a attack {room, damage: 7, combo: [1,2], note: "hi", id: "compat-1"}');
  // The client's id comes back as eventId (receivers drop a retried duplicate by it).
  const want = { ...sent, from: players.a, instanceId: a.welcome.instanceId, eventId: sent.id };
  for (const x of [b, a]) {
    const got = await waitFor(() => x.attacks[0]);
    // Plus its position in the room: the room's first event, under a 16-hex-digit epoch.
    const epoch = got && typeof got.epoch === 'string' && /^[0-9a-f]{16}$/.test(got.epoch) ? got.epoch : '<16 hex>';
    const placed = { ...want, epoch, offset: 1 };
    check(isDeepStrictEqual(got, placed),
      `${x.name} receives the attack with every field intact + from + instanceId + eventId + epoch + offset: ${show(placed)}`, got || 'nothing');
  }
  await sleep(QUIET_MS);
  check(a.attacks.length === 1 && b.attacks.length === 1, 'a and b each receive it exactly once',
    { a: a.attacks.length, b: b.attacks.length });
  check(c.attacks.length === 0, `c (not in the room) receives nothing within ${QUIET_MS} ms`, c.attacks);

  // --- refusals ------------------------------------------------------------------
  await expectError(a, 'attack', 'not an object', 'bad_request', "attack 'not an object'");
  await expectError(a, 'attack', { room, damage: 5000 }, 'bad_request', 'attack damage 5000');
  await expectError(a, 'attack', { room, damage: -1 }, 'bad_request', 'attack damage -1');
  await expectError(a, 'attack', { room, damage: 2.5 }, 'bad_request', 'attack damage 2.5');
  await expectError(a, 'attack', { room }, 'bad_request', 'attack without damage');
  await expectError(a, 'join_room', { room: 'no spaces allowed' }, 'bad_request', "join_room 'no spaces allowed'");
  await expectError(a, 'join_room', { room: 'x'.repeat(65) }, 'bad_request', 'join_room with a 65-char room');
  await expectError(a, 'attack', { room: `elsewhere-${rand}`, damage: 1 }, 'not_in_room', 'attack to a room not joined');
  await expectError(a, 'attack', { room, damage: 1, blob: 'x'.repeat(100 * 1024) }, 'payload_too_large',
    'attack with a 100 KB string field');
  // None of the refused attacks may have been delivered.
  await sleep(QUIET_MS);
  check(b.attacks.length === 1, 'refused attacks were not delivered to b', b.attacks.length);

  // --- leave_room ------------------------------------------------------------------
  await expectOk(a, 'leave_room', { room }, 'a leave_room');
  const res = await ack(a, 'attack', { room, damage: 1 });
  check(res && res.ok === false && res.error && res.error.code === 'not_in_room', 'a attack after leaving -> not_in_room', res);
  await expectOk(b, 'attack', { room, damage: 3 }, 'b attack after a left');
  await waitFor(() => b.attacks.length >= 2);
  check(b.attacks.length === 2 && b.attacks[1].from === players.b && b.attacks[1].instanceId === b.welcome.instanceId,
    'b receives its own attack (instanceId = b\'s instance)', b.attacks.slice(1));
  await sleep(QUIET_MS);
  check(a.attacks.length === 1, 'a (left the room) does not receive it', a.attacks.slice(1));

  // --- connect refusals --------------------------------------------------------------
  const bad = client('bad', url1, { player: 'not a valid id!' });
  await waitFor(() => bad.s.connected || bad.connectError);
  check(!bad.s.connected && bad.connectError, 'auth {player: "not a valid id!"} -> connect_error',
    bad.s.connected ? 'connected' : `nothing within ${WAIT_MS} ms`);
  if (bad.connectError) console.log(`       (message: ${show(bad.connectError.message)})`);

  check(sockets.slice(0, 3).every((x) => x.connected), 'a, b, c are all still connected at the end',
    [a, b, c].map((x) => [x.name, x.s.connected, x.disconnects]));
}

main().catch((err) => fail(`unexpected error: ${err && err.stack ? err.stack : err}`)).finally(finish);
