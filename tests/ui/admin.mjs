// Drives the admin page (/admin) in headless Chromium against two arena instances, with
// real socket.io-client sockets on the other instance.
//
//   ARENA_URLS=http://127.0.0.1:4700,http://127.0.0.1:4701 node admin.mjs
//
// In token mode also set ADMIN_TOKEN (admin role) and PLAYER_TOKEN_<n> for players
// victim, target and bystander (PLAYER_TOKEN_VICTIM, ...): the page must ask for the
// token first. Optional: CHROMIUM_PATH (default /usr/bin/chromium); SCREENSHOT=<file.png>
// saves the page in the light theme there and in the dark theme beside it (-dark.png).
// EXPECT_JUDGE=<id>: the judge panel must list that judge, the queue and the breaker.
// Checks: the page lists both instances and totals that add up, a room with a member on
// each instance counted 2; looking up a player on
// the other instance shows its socket there; "Disconnect player" and a socket's
// "Disconnect" close real sockets on the other instance. Prints one line, exit 0 or 1.

import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';

const WAIT_MS = Number(process.env.UI_WAIT_MS || 20000);
const HARD_LIMIT_MS = Number(process.env.UI_HARD_LIMIT_MS || 120000);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshot = process.env.SCREENSHOT || '';
const adminToken = process.env.ADMIN_TOKEN || '';
const urls = (process.env.ARENA_URLS || '').split(',').map((s) => s.trim()).filter(Boolean);

let browser = null;
let page = null;
let step = 'start';
const errors = [];
const sockets = [];
const done = [];

async function finish(code, line) {
  for (const s of sockets) s.close();
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  console.log(line);
  process.exit(code);
}

async function failWith(reason) {
  const lines = [`admin FAILED at "${step}": ${reason}`];
  if (page) {
    try {
      const snap = await Promise.race([
        page.evaluate(() => ({
          polls: window.arenaAdmin && window.arenaAdmin.polls,
          instances: window.arenaAdmin && window.arenaAdmin.instances,
          player: window.arenaAdmin && window.arenaAdmin.player,
          errors: window.arenaAdmin && window.arenaAdmin.errors.slice(-3),
          live: document.querySelector('#live').textContent,
          login: !document.querySelector('#login').hidden,
        })),
        new Promise((_, rej) => setTimeout(() => rej(new Error('page did not answer')), 3000)),
      ]);
      lines.push(`  page: ${JSON.stringify(snap)}`);
    } catch (e) {
      lines.push(`  page state unavailable (${e.message})`);
    }
  }
  for (const e of errors.slice(0, 5)) lines.push(`  console: ${e}`);
  await finish(1, lines.join('\n'));
}

setTimeout(() => { failWith(`overall limit of ${HARD_LIMIT_MS} ms reached`); }, HARD_LIMIT_MS).unref();

async function at(name, fn) {
  step = name;
  return fn();
}

// A real client as `player` on `url`: resolves {socket, instanceId, closed: Promise}.
function connect(url, player) {
  const token = process.env[`PLAYER_TOKEN_${player.toUpperCase()}`];
  const auth = token ? { token } : { player };
  return new Promise((resolve, reject) => {
    const s = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true, timeout: WAIT_MS });
    sockets.push(s);
    const t = setTimeout(() => reject(new Error(`${player} got no welcome from ${url}`)), WAIT_MS);
    let closedResolve;
    const closed = new Promise((r) => { closedResolve = r; });
    s.on('disconnect', (reason) => closedResolve(reason));
    s.on('connect_error', (e) => { clearTimeout(t); reject(new Error(`${player}: ${e.message}`)); });
    s.on('welcome', (w) => { clearTimeout(t); resolve({ socket: s, instanceId: w.instanceId, closed }); });
  });
}

function within(ms, p, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

async function main() {
  if (urls.length < 2) await failWith('ARENA_URLS must name two instances');
  const [pageUrl, otherUrl] = urls;

  const victim = await at('connect victim on the other instance', () => connect(otherUrl, 'victim'));
  const target = await at('connect target on the other instance', () => connect(otherUrl, 'target'));
  const bystander = await at('connect bystander on the page\'s instance', () => connect(pageUrl, 'bystander'));
  if (victim.instanceId === bystander.instanceId) throw new Error('both URLs answered as the same instance');
  await at('victim and bystander join room lobby', async () => {
    for (const c of [victim, bystander]) {
      const ack = await within(WAIT_MS, c.socket.emitWithAck('join_room', { room: 'lobby' }), 'join_room ack');
      if (!ack || ack.ok !== true) throw new Error(`join_room: ${JSON.stringify(ack)}`);
    }
  });

  await at('launch chromium', async () => {
    browser = await chromium.launch({
      executablePath,
      timeout: WAIT_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.setDefaultTimeout(WAIT_MS);
    const res = await page.goto(`${pageUrl}/admin`, { waitUntil: 'load', timeout: WAIT_MS });
    if (!res || !res.ok()) throw new Error(`GET /admin answered ${res ? res.status() : 'nothing'}`);
  });

  if (adminToken) {
    await at('token mode: the page asks for a token', async () => {
      await page.waitForSelector('#login:not([hidden])');
      await page.fill('#token', adminToken);
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#login', { state: 'hidden' });
      const kept = await page.evaluate(() => !!sessionStorage.getItem('arena.adminToken'));
      if (!kept) throw new Error('the token is not kept in sessionStorage');
      done.push('token pasted');
    });
  }

  await at('both instances and totals that add up', async () => {
    // Heartbeats come every 2 s: wait until both rows show the clients connected above.
    const want = [victim.instanceId, bystander.instanceId].sort();
    const fleet = await page.waitForFunction((want) => {
      const rows = [...document.querySelectorAll('#instances tbody tr[data-instance]')];
      const ids = rows.map((r) => r.dataset.instance).sort();
      if (JSON.stringify(ids) !== JSON.stringify(want)) return false;
      const clients = rows.map((r) => Number(r.dataset.clients));
      const sum = clients.reduce((a, b) => a + b, 0);
      const total = Number(document.querySelector('[data-total=clients] b').textContent);
      const instances = Number(document.querySelector('[data-total=instances] b').textContent);
      if (sum !== 3 || total !== sum || instances !== 2) return false;
      return { ids, clients, total };
    }, want, { timeout: WAIT_MS });
    const v = await fleet.jsonValue();
    done.push(`instances ${v.ids.join('+')} with clients ${v.clients.join('+')} = ${v.total}`);
  });

  // EXPECT_JUDGE=<id>: a real `arena judge` with that id runs beside the instances.
  if (process.env.EXPECT_JUDGE) {
    await at('the judge, its queue and the breaker', async () => {
      const want = process.env.EXPECT_JUDGE;
      const v = await (await page.waitForFunction((want) => {
        const row = document.querySelector(`#judges tbody tr[data-judge="${want}"]`);
        if (!row) return false;
        const jobs = row.children[3].textContent;
        const breaker = document.querySelector('#judge-queue [data-judge=breaker] b');
        const queued = document.querySelector('#judge-queue [data-judge=queued] b');
        const dead = document.querySelector('#judge-queue [data-judge="dead letters"] b');
        if (!breaker || !queued || !dead) return false;
        return { jobs, breaker: breaker.textContent, queued: queued.textContent, dead: dead.textContent };
      }, want, { timeout: WAIT_MS })).jsonValue();
      if (!/^\d+\/[1-9]\d*$/.test(v.jobs)) throw new Error(`judge jobs "${v.jobs}" is not running/concurrency`);
      if (!['closed', 'open', 'half-open'].includes(v.breaker)) throw new Error(`breaker "${v.breaker}"`);
      done.push(`judge ${want} (${v.jobs} jobs), queue ${v.queued}, dead letters ${v.dead}, breaker ${v.breaker}`);
    });
  }

  await at('room lobby counted across both instances', async () => {
    await page.waitForFunction(() => {
      const r = document.querySelector('#rooms tbody tr[data-room="lobby"]');
      return r && r.dataset.members === '2';
    });
    const split = await page.$eval('#rooms tbody tr[data-room="lobby"] td:nth-child(3)', (td) => td.textContent);
    for (const inst of [victim.instanceId, bystander.instanceId]) {
      if (!split.includes(`${inst}: 1`)) throw new Error(`lobby's split "${split}" lacks ${inst}: 1`);
    }
    done.push(`lobby: 2 members (${split})`);
  });

  await at('look up the victim', async () => {
    await page.fill('#player', 'victim');
    await page.click('#lookup button[type=submit]');
    await page.waitForFunction((inst) => {
      const rows = [...document.querySelectorAll('#sockets tbody tr[data-socket]')];
      return rows.length === 1 && rows[0].dataset.instance === inst;
    }, victim.instanceId);
    const sid = await page.$eval('#sockets tbody tr[data-socket]', (r) => r.dataset.socket);
    if (sid !== victim.socket.id) throw new Error(`the page shows socket ${sid}, the client is ${victim.socket.id}`);
    done.push(`victim's socket found on ${victim.instanceId}`);
  });

  if (screenshot) {
    await at('screenshots', async () => {
      await page.screenshot({ path: screenshot, fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      const dark = screenshot.replace(/(\.png)?$/i, '-dark.png');
      await page.screenshot({ path: dark, fullPage: true });
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      if (bg === 'rgb(244, 245, 249)') throw new Error('the dark theme did not apply');
      await page.emulateMedia({ colorScheme: 'light' });
      done.push(`screenshots ${screenshot}, ${dark}`);
    });
  }

  await at('the theme toggle', async () => {
    await page.click('#theme'); // auto -> light
    await page.click('#theme'); // light -> dark
    const t = await page.evaluate(() => document.documentElement.dataset.theme);
    if (t !== 'dark') throw new Error(`data-theme is ${t} after two clicks`);
    await page.click('#theme'); // back to auto
  });

  await at('"Disconnect player" closes the victim on the other instance', async () => {
    await page.click('#kick-player');
    const reason = await within(WAIT_MS, victim.closed, 'victim disconnected');
    if (reason !== 'io server disconnect') throw new Error(`victim closed with ${reason}`);
    await page.waitForFunction(() => document.querySelectorAll('#sockets tbody tr[data-socket]').length === 0);
    done.push(`victim closed (${reason})`);
  });

  await at('a socket\'s "Disconnect" closes the target on the other instance', async () => {
    await page.fill('#player', 'target');
    await page.click('#lookup button[type=submit]');
    const sel = `#sockets button[data-sid="${target.socket.id}"]`;
    await page.waitForSelector(sel);
    await page.click(sel);
    const reason = await within(WAIT_MS, target.closed, 'target disconnected');
    if (reason !== 'io server disconnect') throw new Error(`target closed with ${reason}`);
    if (!bystander.socket.connected) throw new Error('the bystander was disconnected too');
    done.push(`target closed (${reason}), bystander still connected`);
  });

  const uncaught = errors.filter((e) => e.startsWith('uncaught'));
  if (uncaught.length) throw new Error(uncaught.join('; '));
  await finish(0, `admin ok: ${done.join('; ')}`);
}

main().catch((err) => failWith(err && err.message ? err.message.split('\n')[0] : String(err)));
