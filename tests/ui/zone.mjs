// Drives the Battle Zone page (/zone) in headless Chromium: a coding battle between two
// browsers on two arena instances (sharing one Redis, with a real judge), and a third
// browser watching.
//
//   ARENA_URLS=http://127.0.0.1:4700,http://127.0.0.1:4701 node zone.mjs
//
// Optional: CHROMIUM_PATH (default /usr/bin/chromium); SCREENSHOTS=<dir> saves
// zone-lobby, zone-battle, zone-result and zone-spectator, each light and -dark.
// PROBLEM (default a-plus-b). Checks: alice (instance 0) challenges bob (instance 1);
// both pages show the problem and count down; an oversized source is refused in plain
// words; bob's wrong Python answer shows as WA cells on all three pages; the spectator
// (its link dropped and restored in between) has no editor and redraws from
// battle_state; alice's right answer shows as AC cells and ends the battle: every page
// shows alice as the winner, the standings, and alice's page her rating change.
// Prints one line per step, exit 0 or 1.

import { chromium } from 'playwright-core';

const WAIT_MS = Number(process.env.UI_WAIT_MS || 30000);
const HARD_LIMIT_MS = Number(process.env.UI_HARD_LIMIT_MS || 180000);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const shots = process.env.SCREENSHOTS || '';
const problem = process.env.PROBLEM || 'a-plus-b';
const urls = (process.env.ARENA_URLS || '').split(',').map((s) => s.trim()).filter(Boolean);

const RIGHT = 'a, b = map(int, input().split())\nprint(a + b)\n';
const WRONG = 'a, b = map(int, input().split())\nprint(a - b)\n';

let browser = null;
let step = 'start';
const pages = {}; // name -> page
const errors = [];
const done = [];

async function finish(code, line) {
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  console.log(line);
  process.exit(code);
}

async function failWith(reason) {
  const lines = [`zone FAILED at "${step}": ${reason}`];
  for (const [name, page] of Object.entries(pages)) {
    try {
      const snap = await Promise.race([
        page.evaluate(() => {
          const z = window.zone;
          const b = z.battle;
          return {
            me: z.me, connected: z.connected, view: z.view, offsetMs: z.offsetMs,
            battle: b && { id: b.battleId, state: b.state, players: b.players, winner: b.winner, subs: [...b.subs.values()] },
            acks: z.acks.slice(-4), errors: z.errors,
            shown: [...document.querySelectorAll('.error:not([hidden])')].map((e) => e.textContent),
            rating: document.querySelector('#result-rating').textContent,
          };
        }),
        new Promise((_, rej) => setTimeout(() => rej(new Error('page did not answer')), 3000)),
      ]);
      lines.push(`  ${name}: ${JSON.stringify(snap)}`);
    } catch (e) {
      lines.push(`  ${name}: state unavailable (${e.message})`);
    }
  }
  for (const e of errors.slice(0, 8)) lines.push(`  console: ${e}`);
  await finish(1, lines.join('\n'));
}

setTimeout(() => { failWith(`overall limit of ${HARD_LIMIT_MS} ms reached`); }, HARD_LIMIT_MS).unref();

async function at(name, fn) {
  step = name;
  const r = await fn();
  done.push(name);
  console.log(`ok: ${name}`);
  return r;
}

async function open(name, url, player) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.on('console', (m) => {
    // A player no battle has named yet is a 404 from /api/players/{id} while the page
    // waits for the records to rate the battle; Chromium logs every 404 anyway.
    if (m.type() !== 'error' || (m.location().url || '').includes('/api/players/')) return;
    errors.push(`${name}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${name}: uncaught: ${e.message}`));
  page.setDefaultTimeout(WAIT_MS);
  const res = await page.goto(`${url}/zone?player=${player}`, { waitUntil: 'load', timeout: WAIT_MS });
  if (!res || !res.ok()) throw new Error(`GET /zone answered ${res ? res.status() : 'nothing'}`);
  await page.waitForFunction((p) => window.zone && window.zone.connected && window.zone.me === p, player);
  pages[name] = page;
  return page;
}

// Light, then dark (the page follows prefers-color-scheme), then back to light.
async function screenshots(page, name) {
  if (!shots) return;
  const light = `${shots}/${name}.png`;
  const dark = `${shots}/${name}-dark.png`;
  await page.screenshot({ path: light, fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: dark, fullPage: true });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  if (bg === 'rgb(244, 245, 249)') throw new Error('the dark theme did not apply');
}

// The newest submission's row of `player` on `page`: final verdict and cells.
async function waitVerdict(page, player, verdict) {
  const h = await page.waitForFunction(([p, v]) => {
    const row = document.querySelector(`#verdicts .verdict-row[data-player="${CSS.escape(p)}"]`);
    if (!row) return false;
    const final = row.querySelector('.final');
    if (!final || final.dataset.verdict !== v) return false;
    const cells = [...row.querySelectorAll('.cell')].map((c) => c.dataset.verdict);
    return cells.length > 0 ? { cells, text: final.textContent } : false;
  }, [player, verdict]);
  return h.jsonValue();
}

async function submit(page, source) {
  await page.waitForSelector('#submit-btn:not([disabled])');
  await page.selectOption('#language', 'python');
  await page.fill('#editor', source);
  await page.click('#submit-btn');
}

async function main() {
  if (urls.length < 2) await failWith('ARENA_URLS must name two instances');
  const [url0, url1] = urls;

  await at('launch chromium', async () => {
    browser = await chromium.launch({
      executablePath,
      timeout: WAIT_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  });
  const alice = await at('alice opens /zone on instance 0', () => open('alice', url0, 'alice'));
  const bob = await at('bob opens /zone on instance 1', () => open('bob', url1, 'bob'));
  const carol = await at('carol (spectator) opens /zone on instance 1', () => open('carol', url1, 'carol'));
  await at('the two pages are on different instances', async () => {
    const a = await alice.textContent('#instance-id');
    const b = await bob.textContent('#instance-id');
    if (a === b) throw new Error(`both on ${a}`);
  });
  await at('the demo page links here and stays reachable', async () => {
    const res = await alice.request.get(`${url0}/`);
    if (!res.ok() || !(await res.text()).includes('href="/zone"')) throw new Error('/ has no link to /zone');
  });
  await at('screenshots of the lobby', () => screenshots(alice, 'zone-lobby'));

  await at(`alice challenges bob on ${problem}`, async () => {
    await alice.fill('#challenge-player', 'bob');
    await alice.fill('#challenge-problem', problem);
    await alice.click('#challenge-btn');
  });
  const battleId = await at('both pages show the battle, the problem and its starter', async () => {
    let id = null;
    for (const page of [alice, bob]) {
      await page.waitForFunction((p) => {
        const z = window.zone;
        return z.view === 'battle' && z.battle && z.battle.problem && z.battle.problem.id === p;
      }, problem);
      const got = await page.evaluate(() => ({
        id: window.zone.battle.battleId,
        title: document.querySelector('#problem-title').textContent,
        headings: document.querySelectorAll('#statement h3, #statement h4').length,
        inlineCode: document.querySelectorAll('#statement code').length,
        examples: document.querySelectorAll('#examples .example').length,
        editor: document.querySelector('#editor').value,
        role: document.querySelector('#role').dataset.role,
        languages: [...document.querySelectorAll('#language option')].map((o) => o.value),
      }));
      if (id && got.id !== id) throw new Error(`two battles: ${id} and ${got.id}`);
      id = got.id;
      if (!got.title || got.headings < 1 || got.inlineCode < 1 || got.examples < 1) throw new Error(`problem not drawn: ${JSON.stringify(got)}`);
      if (got.role !== 'player') throw new Error(`role ${got.role}`);
      if (!got.languages.includes('python') || !got.editor.includes('sys.stdin')) throw new Error(`starter not loaded: ${JSON.stringify(got)}`);
    }
    return id;
  });
  await at('the clock counts down, then runs', async () => {
    // The countdown may already be over on a slow machine: either is fine, then it runs.
    await alice.waitForFunction(() => ['countdown', 'running'].includes(document.querySelector('#clock').dataset.state));
    await alice.waitForFunction(() => document.querySelector('#clock').dataset.state === 'running'
      && /^\d\d:\d\d$/.test(document.querySelector('#clock').textContent));
    await alice.waitForSelector('#submit-btn:not([disabled])');
  });

  await at('carol watches by id: read-only', async () => {
    await carol.fill('#watch-id', battleId);
    await carol.click('#watch-btn');
    await carol.waitForFunction(() => window.zone.view === 'battle');
    const v = await carol.evaluate(() => ({
      role: document.querySelector('#role').dataset.role,
      editor: document.querySelector('#editor-card').hidden,
    }));
    if (v.role !== 'spectator' || !v.editor) throw new Error(`spectator view: ${JSON.stringify(v)}`);
  });

  await at('an oversized source is refused in plain words', async () => {
    await submit(bob, `# ${'x'.repeat(70 * 1024)}\n`);
    await bob.waitForSelector('#submit-error:not([hidden])');
    const e = await bob.evaluate(() => ({ code: document.querySelector('#submit-error').dataset.code, text: document.querySelector('#submit-error').textContent }));
    if (e.code !== 'payload_too_large' || !/too large/i.test(e.text)) throw new Error(`error shown: ${JSON.stringify(e)}`);
  });

  await at('bob submits a wrong answer: WA on every page', async () => {
    await submit(bob, WRONG);
    for (const page of [bob, alice, carol]) {
      const v = await waitVerdict(page, 'bob', 'WA');
      if (!v.cells.includes('WA')) throw new Error(`no WA cell: ${JSON.stringify(v)}`);
    }
    const status = await bob.textContent('#submit-status');
    if (!/wrong answer/i.test(status)) throw new Error(`bob's status: ${status}`);
    await alice.waitForSelector('#standings tbody tr[data-player="bob"]');
  });
  await at('screenshots of the battle', () => screenshots(alice, 'zone-battle'));

  await at('carol loses her link and redraws from battle_state', async () => {
    await carol.evaluate(() => window.zone.dropConnection());
    await carol.waitForFunction(() => !window.zone.connected);
    await carol.waitForFunction(() => window.zone.connected);
    await waitVerdict(carol, 'bob', 'WA');
  });

  await at('alice submits the right answer: AC on every page, alice wins', async () => {
    await submit(alice, RIGHT);
    for (const page of [alice, bob, carol]) {
      const v = await waitVerdict(page, 'alice', 'AC');
      if (v.cells.some((c) => c !== 'AC')) throw new Error(`cells: ${JSON.stringify(v)}`);
      await page.waitForFunction(() => window.zone.view === 'result');
      const r = await page.evaluate(() => ({
        winner: document.querySelector('#result-winner').dataset.winner,
        text: document.querySelector('#result-winner').textContent,
        reason: document.querySelector('#result-reason').textContent,
        first: document.querySelector('#result-standings tbody tr')?.dataset.player,
      }));
      if (r.winner !== 'alice' || r.first !== 'alice' || !/solved/.test(r.reason)) throw new Error(`result: ${JSON.stringify(r)}`);
    }
    const text = await alice.textContent('#result-winner');
    if (!/You won/.test(text)) throw new Error(`alice's page says ${text}`);
  });
  await at("alice's page shows her rating change, bob's his", async () => {
    // "Rating: before → after (±d)", read from the records' entry for this very battle
    // (never the rating the player had before it). The winner never loses points, the
    // loser never gains (the amounts are the records' business, tested there).
    for (const [page, sign] of [[alice, 1], [bob, -1]]) {
      await page.waitForFunction(() => /^Rating: \d+ → \d+ \([+-]\d+\)$/.test(document.querySelector('#result-rating').textContent));
      const delta = await page.evaluate(() => document.querySelector('#result-rating').dataset.delta);
      if (delta === undefined || Number(delta) * sign < 0) throw new Error(`rating moved the wrong way: ${delta}`);
    }
  });
  await at('screenshots of the result', async () => {
    await screenshots(alice, 'zone-result');
    await screenshots(carol, 'zone-spectator');
  });
  if (errors.length) await failWith('errors in the console');
  await finish(0, `zone ok: ${done.length} steps`);
}

main().catch((e) => failWith(e && e.stack ? e.stack : String(e)));
