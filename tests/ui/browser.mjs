// Drives the real page in headless Chromium against two arena instances.
//
//   ARENA_URLS=http://127.0.0.1:4700,http://127.0.0.1:4701 node browser.mjs
//
// Optional: CHROMIUM_PATH (default /usr/bin/chromium); SCREENSHOT=/tmp/ui.png
// saves the first page in the light theme there and in the dark theme beside it
// (/tmp/ui-dark.png). Prints one line and exits 0, or says what was missing and
// exits 1. Every wait is bounded.

import { chromium } from 'playwright-core';

const WAIT_MS = Number(process.env.UI_WAIT_MS || 30000); // ticks from 2 instances, page load
const STEP_MS = Number(process.env.UI_STEP_MS || 8000);  // a single round trip
const HARD_LIMIT_MS = Number(process.env.UI_HARD_LIMIT_MS || 150000);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshot = process.env.SCREENSHOT || '';

const urls = (process.env.ARENA_URLS || '').split(',').map((s) => s.trim()).filter(Boolean);
if (urls.length === 0) {
  console.log('browser FAILED: ARENA_URLS is not set (comma-separated base URLs of two arena instances)');
  process.exit(1);
}

let browser = null;
let step = 'start';
const pages = []; // {name, page, errors}
const done = []; // short notes for the success line

async function closeBrowser() {
  if (!browser) return;
  const b = browser;
  browser = null;
  await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}

async function failWith(reason) {
  const lines = [`browser FAILED at "${step}": ${reason}`];
  for (const p of pages) {
    try {
      const snap = await Promise.race([
        p.page.evaluate(() => {
          const a = window.arena || {};
          const q = (s) => document.querySelector(s);
          return {
            ready: a.ready, instanceId: a.instanceId, player: a.player,
            ticks: (a.ticks || []).length,
            tickInstances: [...new Set((a.ticks || []).map((t) => t.instanceId))],
            attacks: (a.attacks || []).map((x) => `${x.from}@${x.instanceId}:${x.damage}`).slice(-5),
            conn: q('#conn-state') && q('#conn-state').textContent,
            error: q('#error') && !q('#error').hidden ? q('#error').textContent : '',
          };
        }),
        new Promise((_, rej) => setTimeout(() => rej(new Error('page did not answer')), 3000)),
      ]);
      lines.push(`  page ${p.name}: ${JSON.stringify(snap)}`);
    } catch (err) {
      lines.push(`  page ${p.name}: state unavailable (${err.message})`);
    }
    for (const e of p.errors.slice(0, 5)) lines.push(`  page ${p.name} console: ${e}`);
  }
  console.log(lines.join('\n'));
  await closeBrowser();
  process.exit(1);
}

setTimeout(() => { failWith(`overall limit of ${HARD_LIMIT_MS} ms reached`); }, HARD_LIMIT_MS).unref();

// Runs fn as a named step; a thrown error or timeout fails the run there.
async function at(name, fn) {
  step = name;
  return fn();
}

async function openPage(name, url) {
  // A context per page: separate localStorage, so each page is its own player.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  const page = await context.newPage();
  const entry = { name, page, errors: [] };
  pages.push(entry);
  page.on('console', (m) => { if (m.type() === 'error') entry.errors.push(m.text()); });
  page.on('pageerror', (e) => entry.errors.push(`uncaught: ${e.message}`));
  page.setDefaultTimeout(STEP_MS);
  const res = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  if (!res || !res.ok()) throw new Error(`GET ${url} answered ${res ? res.status() : 'nothing'}`);
  await page.waitForFunction(() => window.arena && window.arena.ready && window.arena.instanceId, null, { timeout: WAIT_MS });
  const info = await page.evaluate(() => ({
    instanceId: window.arena.instanceId,
    player: window.arena.player,
    conn: document.querySelector('#conn-state').textContent.trim(),
    shown: document.querySelector('#instance-id').textContent.trim(),
  }));
  if (info.conn !== 'connected') throw new Error(`#conn-state says "${info.conn}", wanted "connected"`);
  if (info.shown !== info.instanceId) throw new Error(`#instance-id shows "${info.shown}", welcome said "${info.instanceId}"`);
  const uncaught = entry.errors.filter((e) => e.startsWith('uncaught'));
  if (uncaught.length) throw new Error(uncaught.join('; '));
  return { ...entry, ...info };
}

async function joinRoom(p, room) {
  await p.page.fill('#room-input', room);
  await p.page.click('#join-btn');
  await p.page.waitForFunction((r) => document.querySelector('#joined-rooms').textContent.split(', ').includes(r), room);
}

// Clicks Attack on page `from` and waits for its row on every page in `to`.
async function attack(from, to, room, damage) {
  await from.page.fill('#room-input', room);
  await from.page.fill('#damage-input', String(damage));
  await from.page.click('#attack-btn');
  for (const p of to) {
    const sel = `#attack-log li[data-from="${from.player}"][data-instance="${from.instanceId}"]`;
    await p.page.waitForFunction(({ sel, damage }) =>
      [...document.querySelectorAll(sel)].some((li) => li.querySelector('.damage').textContent === String(damage)),
    { sel, damage }, { timeout: STEP_MS }).catch(() => {
      throw new Error(`page ${p.name} never showed ${from.name}'s attack (damage ${damage}, from ${from.player}, instance ${from.instanceId})`);
    });
  }
}

async function main() {
  await at('launch chromium', async () => {
    browser = await chromium.launch({
      executablePath,
      timeout: WAIT_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  });

  const A = await at(`open ${urls[0]}`, () => openPage('A', urls[0]));

  await at('ticks from 2 instances', async () => {
    await A.page.waitForFunction(() => {
      const seen = new Set([...document.querySelectorAll('#tick-strip [data-tick][data-instance]')].map((li) => li.dataset.instance));
      return seen.size >= 2;
    }, null, { timeout: WAIT_MS, polling: 250 }).catch(() => { throw new Error(`no ticks from 2 distinct instances within ${WAIT_MS} ms`); });
    const strip = await A.page.evaluate(() => {
      const lis = [...document.querySelectorAll('#tick-strip li')];
      const own = window.arena.instanceId;
      return {
        count: lis.length,
        instances: [...new Set(lis.map((li) => li.dataset.instance))],
        untitled: lis.filter((li) => !li.title || !li.dataset.tick).length,
        ownWrong: lis.filter((li) => (li.dataset.instance === own) !== li.classList.contains('own')).length,
        legend: document.querySelectorAll('#tick-legend li').length,
        seen: window.arena.ticks.map((t) => t.tick),
      };
    });
    if (strip.untitled) throw new Error(`${strip.untitled} tick blocks lack a title or data-tick`);
    if (strip.ownWrong) throw new Error(`${strip.ownWrong} tick blocks colored wrongly for own/other instance`);
    if (strip.legend < 2) throw new Error(`legend lists ${strip.legend} instances, wanted >= 2`);
    // Exactly one winner per interval: the same tick twice is a server bug.
    const dups = strip.seen.filter((t, i) => strip.seen.indexOf(t) !== i);
    if (dups.length) throw new Error(`tick numbers received more than once: ${[...new Set(dups)].join(', ')}`);
    done.push(`${strip.seen.length} ticks won by ${strip.instances.length} instances`);
  });

  const room = `ui-${Math.random().toString(36).slice(2, 8)}`;
  await at(`join room ${room} and see own attack`, async () => {
    await joinRoom(A, room);
    await attack(A, [A], room, 42);
    await A.page.waitForFunction(() => document.querySelector('#counter-sent').textContent === '1');
    done.push(`own attack echoed via ${A.instanceId}`);
  });

  await at('error ack shown inline', async () => {
    await A.page.fill('#room-input', `not-joined-${room}`);
    await A.page.click('#attack-btn');
    await A.page.waitForFunction(() => {
      const e = document.querySelector('#error');
      return !e.hidden && e.dataset.code === 'not_in_room' && e.textContent.includes('not_in_room');
    }).catch(() => { throw new Error('#error never showed code not_in_room for an attack on a room not joined'); });
    done.push('not_in_room shown');
  });

  await at('live counters from /status', async () => {
    await A.page.waitForFunction(() =>
      Number(document.querySelector('#counter-clients').textContent.replace(/\D/g, '')) >= 1, null, { timeout: 6000 })
      .catch(() => { throw new Error('#counter-clients never showed a number >= 1 (is GET /status answering?)'); });
  });

  if (urls[1]) {
    const B = await at(`open ${urls[1]}`, () => openPage('B', urls[1]));
    await at('cross-instance attacks', async () => {
      if (B.instanceId === A.instanceId) throw new Error(`both URLs are instance ${A.instanceId}`);
      if (B.player === A.player) throw new Error(`both pages got player ${A.player}`);
      await joinRoom(B, room);
      await attack(A, [A, B], room, 43);
      await attack(B, [A, B], room, 44);
      // Each page paints its own instance with the accent, the other with a hue.
      await B.page.waitForFunction(() => document.querySelectorAll('#tick-strip li').length > 0, null, { timeout: WAIT_MS })
        .catch(() => { throw new Error(`page B saw no tick within ${WAIT_MS} ms`); });
      const owns = await B.page.evaluate((id) => [...document.querySelectorAll('#tick-strip li')]
        .every((li) => (li.dataset.instance === id) === li.classList.contains('own')), B.instanceId);
      if (!owns) throw new Error('page B does not mark its own instance\'s ticks as own');
      done.push(`A(${A.instanceId})<->B(${B.instanceId}) attacks delivered`);
    });

    // A tile claimed on page A reaches page B (the other instance) as tile_claimed: the
    // claim script publishes it on its partition's shard channel, every instance holds.
    await at('a claimed tile reaches the other instance', async () => {
      let claim = null;
      for (let attempt = 0; attempt < 5 && !claim; attempt++) {
        await A.page.waitForFunction(() => document.querySelector('#hunt-grid .tile:not(.claimed):not([disabled])'), null, { timeout: WAIT_MS })
          .catch(() => { throw new Error(`page A showed no claimable tile within ${WAIT_MS} ms`); });
        await A.page.click('#hunt-grid .tile:not(.claimed):not([disabled])');
        // A is in the hunt room too: its own claim comes back to it as tile_claimed.
        claim = await A.page.waitForFunction((me) => (window.arena.hunt.claims || []).find((c) => c.player === me),
          A.player, { timeout: 3000 }).then((h) => h.jsonValue()).catch(() => null); // a map that expired meanwhile: again
      }
      if (!claim) throw new Error('five clicks on page A and no tile_claimed of its own came back');
      await B.page.waitForFunction((c) => (window.arena.hunt.claims || []).some((d) =>
        d.mapId === c.mapId && d.tile === c.tile && d.player === c.player), claim, { timeout: STEP_MS })
        .catch(() => { throw new Error(`page B never got tile_claimed for map ${claim.mapId} tile ${claim.tile} by ${claim.player}`); });
      done.push(`tile ${claim.tile} of map ${claim.mapId} claimed on A, seen on B`);
    });
  }

  if (screenshot) {
    await at('screenshots', async () => {
      await A.page.screenshot({ path: screenshot, fullPage: true });
      await A.page.emulateMedia({ colorScheme: 'dark' });
      const dark = screenshot.replace(/(\.png)?$/i, '-dark.png');
      await A.page.screenshot({ path: dark, fullPage: true });
      done.push(`screenshots ${screenshot}, ${dark}`);
    });
  }

  const errors = pages.flatMap((p) => p.errors.filter((e) => e.startsWith('uncaught')).map((e) => `${p.name}: ${e}`));
  if (errors.length) throw new Error(errors.join('; '));

  await closeBrowser();
  console.log(`browser ok: ${done.join('; ')}`);
  process.exit(0);
}

main().catch((err) => failWith(err && err.message ? err.message.split('\n')[0] : String(err)));
