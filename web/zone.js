// The Battle Zone page (/zone): lobby (queue, challenge, watch), the battle (problem,
// clock, editor, live verdicts, standings), the result, and a read-only spectator view.
// It speaks the coding-battle events over the page's own Socket.IO client (socket.js);
// window.zone mirrors what it shows, for the browser test.

import { ArenaSocket } from './socket.js';
import { $, player as savedPlayer, setState } from './page.js';
import { renderMarkdown } from './markdown.js';

const PLAYER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const TOKEN_KEY = 'arena.zone.token';
const PENALTY_NOTE = 'ICPC: time to solve plus 20 min per wrong attempt before it';
// How long to wait for the records to apply the rating change after a battle ended.
const RATING_POLL_MS = 500;
const RATING_POLL_TRIES = 20;

// Error codes the server answers, in plain words.
const PLAIN = {
  judge_unavailable: 'The judge is not available right now (or the battle is paused). Try again in a moment.',
  rate_limited: 'Too many submissions: wait a few seconds before submitting again.',
  payload_too_large: 'The source is too large (at most 64 KiB).',
  forbidden: 'You are not a player in this battle.',
  bad_request: 'The server refused the request',
  not_found: 'No such battle.',
  disconnected: 'Not connected to the server; it will retry by itself.',
  timeout: 'The server did not answer in time.',
  unavailable: 'The server is temporarily unavailable.',
};

const VERDICT_WORDS = {
  AC: 'accepted', WA: 'wrong answer', TLE: 'time limit exceeded', MLE: 'memory limit exceeded',
  OLE: 'output limit exceeded', RTE: 'runtime error', CE: 'compile error', IE: 'internal error',
  judging: 'judging',
};
const REASON_WORDS = {
  solved: 'solved first', time: 'time ran out', forfeit: 'forfeit', disconnect: 'a player left',
  ended: 'ended by a player',
};
const LANGUAGE_NAMES = { python: 'Python 3', javascript: 'JavaScript (Node)', c: 'C', cpp: 'C++' };

const el = {
  instance: $('instance-id'), player: $('player-id'),
  lobby: $('lobby'), whoForm: $('who-form'), whoPlayer: $('who-player'), whoToken: $('who-token'),
  queueForm: $('queue-form'), queueDifficulty: $('queue-difficulty'), queueBtn: $('queue-btn'),
  leaveQueueBtn: $('leave-queue-btn'), queueStatus: $('queue-status'),
  challengeForm: $('challenge-form'), challengePlayer: $('challenge-player'),
  challengeDifficulty: $('challenge-difficulty'), challengeProblem: $('challenge-problem'),
  challengeBtn: $('challenge-btn'),
  watchForm: $('watch-form'), watchId: $('watch-id'), watchBtn: $('watch-btn'),
  lobbyError: $('lobby-error'),
  battle: $('battle'), battleTitle: $('battle-title'), battleMeta: $('battle-meta'), role: $('role'),
  clockLabel: $('clock-label'), clock: $('clock'), forfeitBtn: $('forfeit-btn'), backBtn: $('back-btn'),
  paused: $('paused'), problemTitle: $('problem-title'), problemMeta: $('problem-meta'),
  statement: $('statement'), examples: $('examples'),
  editorCard: $('editor-card'), language: $('language'), editor: $('editor'),
  submitBtn: $('submit-btn'), submitStatus: $('submit-status'), submitError: $('submit-error'),
  verdicts: $('verdicts'), standings: $('standings'),
  result: $('result'), resultReason: $('result-reason'), resultWinner: $('result-winner'),
  resultRating: $('result-rating'), resultStandings: $('result-standings'),
};

// What the page shows; `battle` is null in the lobby.
const zone = window.zone = {
  me: null, connected: false, view: 'lobby', queued: false, battle: null,
  offsetMs: 0, // server clock minus local clock
  acks: [], errors: [],
};

let socket = null;
// For the browser test: drop the link as a network failure would (the page reconnects).
zone.dropConnection = () => { if (socket && socket.ws) socket.ws.close(); };

// --- connection ---------------------------------------------------------------

function savedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function authFor(playerId, token) {
  return token ? { token } : { player: playerId };
}

function connect(auth) {
  if (socket) {
    // A socket that is replaced must not reconnect by itself.
    socket.handlers.clear();
    clearTimeout(socket.retryTimer);
    if (socket.ws) socket.ws.close();
  }
  socket = new ArenaSocket(auth);
  socket.on('state', setState);
  socket.on('connect', onConnect);
  socket.on('disconnect', () => { zone.connected = false; enableControls(); });
  socket.on('connect_error', (e) => showBox(el.lobbyError, `Connect refused: ${e && e.message ? e.message : 'unknown reason'}`));
  socket.on('welcome', onWelcome);
  socket.on('battle_started', onBattleStarted);
  socket.on('submission_update', onSubmissionUpdate);
  socket.on('submission_result', onSubmissionResult);
  socket.on('battle_leaderboard', onLeaderboard);
  socket.on('battle_paused', onPaused);
  socket.on('battle_resumed', onResumed);
  socket.on('battle_ended', onEnded);
  setState('connecting');
  socket.connect();
}

function onWelcome(w) {
  zone.me = w && w.player ? String(w.player) : null;
  el.player.textContent = zone.me || '?';
  el.instance.textContent = w && w.instanceId ? String(w.instanceId) : '?';
  el.instance.title = `socket ${w && w.socketId}`;
  // The server clock, when the welcome carries it; else battle_state's remainingMs does.
  const serverNow = w && (w.serverTime ?? w.now);
  if (typeof serverNow === 'number') zone.offsetMs = serverNow - Date.now();
}

function onConnect() {
  zone.connected = true;
  hideBox(el.lobbyError);
  enableControls();
  // After a reconnect the room membership is gone and events were missed: ask again.
  const id = zone.battle ? zone.battle.battleId : battleFromHash();
  if (id) watch(id, { quiet: !zone.battle });
}

function enableControls() {
  const on = zone.connected;
  for (const b of [el.queueBtn, el.challengeBtn, el.watchBtn]) b.disabled = !on;
  el.queueBtn.disabled = !on || zone.queued;
  el.leaveQueueBtn.disabled = !on || !zone.queued;
  const b = zone.battle;
  el.submitBtn.disabled = !on || !b || !isPlayer(b) || !(b.state === 'running' && serverNow() >= b.startsAt);
}

// --- acks -------------------------------------------------------------------------

function call(event, data) {
  return new Promise((resolve) => {
    socket.emit(event, data, (res) => {
      zone.acks.push({ event, res });
      if (zone.acks.length > 50) zone.acks.shift();
      resolve(res || { ok: false, error: { code: 'error', message: 'empty answer' } });
    });
  });
}

function plain(res) {
  const err = (res && res.error) || {};
  const words = PLAIN[err.code];
  if (err.code === 'bad_request' || !words) return `${words || err.code || 'error'}${err.message ? `: ${err.message}` : ''}`;
  return words;
}

function showBox(box, text, code) {
  box.textContent = text;
  if (code) box.dataset.code = code; else delete box.dataset.code;
  box.hidden = false;
}

function hideBox(box) {
  box.hidden = true;
  box.textContent = '';
  delete box.dataset.code;
}

function failed(box, action, res) {
  const code = (res && res.error && res.error.code) || 'error';
  zone.errors.push({ action, code });
  showBox(box, `${action}: ${plain(res)}`, code);
}

// --- lobby --------------------------------------------------------------------

el.whoForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = el.whoToken.value.trim();
  const id = el.whoPlayer.value.trim();
  if (!token && !PLAYER_RE.test(id)) {
    showBox(el.lobbyError, 'A player id is letters, digits and _.- (1 to 64), or paste a token.');
    return;
  }
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    if (!token) localStorage.setItem('arena.player', id);
  } catch { /* storage may be off: this tab still works */ }
  connect(authFor(id, token));
});

el.queueForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  hideBox(el.lobbyError);
  el.queueBtn.disabled = true;
  const res = await call('queue_battle', { difficulty: el.queueDifficulty.value });
  if (!res.ok) { failed(el.lobbyError, 'Queue', res); enableControls(); return; }
  if (res.queued) {
    zone.queued = true;
    el.queueStatus.textContent = `Waiting for an opponent (${el.queueDifficulty.value})…`;
  } else if (res.battleId) {
    el.queueStatus.textContent = 'Paired!';
    watch(res.battleId);
  }
  enableControls();
});

el.leaveQueueBtn.addEventListener('click', async () => {
  const res = await call('leave_queue', {});
  if (!res.ok) { failed(el.lobbyError, 'Leave queue', res); return; }
  zone.queued = false;
  el.queueStatus.textContent = res.left ? 'Left the queue.' : 'You were not queued.';
  enableControls();
});

el.challengeForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  hideBox(el.lobbyError);
  const other = el.challengePlayer.value.trim();
  if (!PLAYER_RE.test(other)) { showBox(el.lobbyError, 'Name the opponent by a player id (letters, digits and _.-).'); return; }
  if (other === zone.me) { showBox(el.lobbyError, 'Challenge someone else.'); return; }
  const req = { players: [zone.me, other] };
  const problemId = el.challengeProblem.value.trim();
  if (problemId) req.problemId = problemId;
  else if (el.challengeDifficulty.value !== 'any') req.difficulty = el.challengeDifficulty.value;
  el.challengeBtn.disabled = true;
  const res = await call('start_battle', req);
  enableControls();
  if (!res.ok) { failed(el.lobbyError, 'Challenge', res); return; }
  watch(res.battleId);
});

el.watchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  hideBox(el.lobbyError);
  const id = el.watchId.value.trim();
  if (!id) { showBox(el.lobbyError, 'Paste a battle id.'); return; }
  watch(id);
});

el.backBtn.addEventListener('click', () => {
  zone.battle = null;
  history.replaceState(null, '', '/zone');
  show('lobby');
});

function battleFromHash() {
  const m = /^#battle=([A-Za-z0-9_:.-]{1,128})$/.exec(location.hash);
  return m ? m[1] : null;
}

// --- battle state -------------------------------------------------------------

// `battle_state` joins this socket to the battle's room and answers the whole view:
// the one way in for players, spectators and a page that reconnected.
async function watch(battleId, { quiet = false } = {}) {
  const res = await call('battle_state', { battleId });
  if (!res.ok) {
    if (!quiet) failed(zone.battle ? el.submitError : el.lobbyError, 'Open battle', res);
    return;
  }
  applyView(res);
}

function newBattle(battleId) {
  return {
    battleId, players: [], problem: null, state: 'countdown', startsAt: 0, endsAt: 0,
    remainingMs: null, winner: null, reason: null, standings: [],
    subs: new Map(), // submissionId -> {player, language, verdict, passed, of, failedTest, tests: []}
    drafts: {}, language: null,
  };
}

function current(battleId) {
  if (!zone.battle || zone.battle.battleId !== battleId) {
    zone.battle = newBattle(battleId);
  }
  return zone.battle;
}

// A BattleView (from battle_state) replaces what we knew, keeping the editor drafts.
function applyView(v) {
  const b = current(v.battleId);
  b.players = v.players || b.players;
  if (v.problem) b.problem = v.problem;
  b.state = v.state || b.state;
  b.startsAt = num(v.startsAt, b.startsAt);
  b.endsAt = num(v.endsAt, b.endsAt);
  b.remainingMs = typeof v.remainingMs === 'number' ? v.remainingMs : null;
  // The view carries the server's clock (serverNow); without it, remainingMs is measured
  // on that clock too and gives the offset to ours while running.
  if (typeof v.serverNow === 'number') zone.offsetMs = v.serverNow - Date.now();
  else if (b.state === 'running' && b.remainingMs != null && b.endsAt) zone.offsetMs = (b.endsAt - b.remainingMs) - Date.now();
  b.winner = v.winner ?? null;
  b.reason = v.reason ?? null;
  if (Array.isArray(v.standings)) b.standings = v.standings;
  b.subs = new Map();
  for (const s of v.submissions || []) b.subs.set(s.submissionId, fromSummary(s));
  history.replaceState(null, '', `/zone#battle=${encodeURIComponent(b.battleId)}`);
  drawBattle();
  if (b.state === 'ended') drawResult();
  else show('battle');
}

// A submission from battle_state: its per-test verdicts when it lists them (`tests`),
// else what its summary implies.
function fromSummary(s) {
  const of = num(s.of, 0);
  const tests = new Array(of).fill(null);
  if (Array.isArray(s.tests) && s.tests.length) {
    for (const t of s.tests) {
      const i = num(t && t.test, 0);
      if (i === 0 && t.verdict === 'CE') { tests.length = 0; tests.push('CE'); break; }
      if (i >= 1) { if (i > tests.length) tests.length = i; tests[i - 1] = t.verdict; }
    }
  } else if (s.verdict === 'AC') tests.fill('AC');
  else if (s.verdict && s.verdict !== 'judging') {
    const failedAt = num(s.failedTest, 0);
    if (s.verdict === 'CE' && !failedAt) tests.fill('CE');
    for (let i = 0; i < Math.min(failedAt - 1, of); i++) tests[i] = 'AC';
    if (failedAt >= 1 && failedAt <= of) tests[failedAt - 1] = s.verdict;
  } else {
    for (let i = 0; i < Math.min(num(s.passed, 0), of); i++) tests[i] = 'AC';
  }
  return {
    player: s.player, language: s.language, verdict: s.verdict || 'judging', passed: num(s.passed, 0),
    of, failedTest: s.failedTest ?? null, tests, submittedAt: num(s.submittedAt, 0),
  };
}

function num(x, fallback) {
  return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
}

function isPlayer(b) {
  return !!zone.me && b.players.includes(zone.me);
}

// --- server events -------------------------------------------------------------

function onBattleStarted(e) {
  if (!e || !e.battleId) return;
  zone.queued = false;
  el.queueStatus.textContent = '';
  const b = current(e.battleId);
  b.players = e.players || b.players;
  if (e.problem) b.problem = e.problem;
  b.startsAt = num(e.startsAt, b.startsAt);
  b.endsAt = num(e.endsAt, b.endsAt);
  if (b.state !== 'ended') b.state = serverNow() < b.startsAt ? 'countdown' : 'running';
  history.replaceState(null, '', `/zone#battle=${encodeURIComponent(b.battleId)}`);
  drawBattle();
  show('battle');
  // The event may predate the problem on the wire (an older server): ask for the rest.
  if (!e.problem || !e.startsAt) watch(e.battleId, { quiet: true });
}

function ours(e) {
  return e && zone.battle && e.battleId === zone.battle.battleId;
}

function sub(e) {
  const b = zone.battle;
  let s = b.subs.get(e.submissionId);
  if (!s) {
    s = { player: e.player, language: e.language || '', verdict: 'judging', passed: 0, of: 0, failedTest: null, tests: [], submittedAt: Date.now() };
    b.subs.set(e.submissionId, s);
  }
  const of = num(e.of, s.of);
  if (of > s.tests.length) s.tests.length = of;
  s.of = of;
  return s;
}

function onSubmissionUpdate(e) {
  if (!ours(e)) return;
  const s = sub(e);
  const test = num(e.test, 0);
  if (test === 0) { // a compile error: one update for the whole submission
    s.tests = [e.verdict];
    s.verdict = e.verdict;
  } else if (test >= 1) {
    if (test > s.tests.length) s.tests.length = test;
    s.tests[test - 1] = e.verdict;
  }
  drawVerdicts();
}

function onSubmissionResult(e) {
  if (!ours(e)) return;
  const s = sub(e);
  s.verdict = e.verdict;
  if (e.language) s.language = e.language;
  s.passed = num(e.passed, s.passed);
  s.failedTest = e.failedTest ?? null;
  if (e.verdict === 'AC') s.tests = new Array(s.of).fill('AC');
  drawVerdicts();
  if (e.player === zone.me) {
    el.submitStatus.textContent = `Verdict: ${VERDICT_WORDS[e.verdict] || e.verdict} (${s.passed}/${s.of} tests passed)`;
  }
}

function onLeaderboard(e) {
  if (!ours(e)) return;
  zone.battle.standings = e.standings || [];
  drawStandings(el.standings, zone.battle.standings);
}

function onPaused(e) {
  if (!ours(e)) return;
  const b = zone.battle;
  b.state = 'paused';
  b.remainingMs = num(e.remainingMs, b.remainingMs);
  drawBattle();
}

function onResumed(e) {
  if (!ours(e)) return;
  const b = zone.battle;
  b.state = 'running';
  b.endsAt = num(e.endsAt, b.endsAt);
  if (typeof e.remainingMs === 'number' && b.endsAt) zone.offsetMs = (b.endsAt - e.remainingMs) - Date.now();
  drawBattle();
}

function onEnded(e) {
  if (!ours(e)) return;
  const b = zone.battle;
  b.state = 'ended';
  b.winner = e.winner ?? null;
  b.reason = e.reason ?? null;
  if (Array.isArray(e.standings)) b.standings = e.standings;
  drawBattle();
  drawResult();
}

// --- drawing --------------------------------------------------------------------

function show(view) {
  zone.view = view;
  el.lobby.hidden = view !== 'lobby';
  el.battle.hidden = view === 'lobby';
  el.result.hidden = view !== 'result';
  document.body.dataset.view = view;
}

function drawBattle() {
  const b = zone.battle;
  if (!b) return;
  const playing = isPlayer(b);
  el.battleTitle.textContent = b.players.join(' vs ') || 'Battle';
  el.battleMeta.textContent = `battle ${b.battleId}`;
  // The pill is the viewer's part in the battle; past tense once it is over, so an ended
  // battle never reads as still "playing".
  const over = b.state === 'ended';
  el.role.textContent = playing ? (over ? 'played' : 'playing') : (over ? 'watched' : 'watching');
  el.role.dataset.role = playing ? 'player' : 'spectator';
  el.editorCard.hidden = !playing;
  el.forfeitBtn.hidden = !playing || over;
  el.paused.hidden = b.state !== 'paused';
  if (b.state === 'paused') {
    el.paused.textContent = `Paused: the judge is unavailable. The clock is stopped with ${fmtClock(b.remainingMs ?? 0)} left; it resumes when the judge is back.`;
  }
  drawProblem(b);
  drawVerdicts();
  drawStandings(el.standings, b.standings);
  tick();
  enableControls();
}

function drawProblem(b) {
  const p = b.problem;
  if (!p) { el.statement.textContent = 'Loading the problem…'; return; }
  if (el.statement.dataset.problem === p.id) return; // drawn already; keep the reader's scroll
  el.statement.dataset.problem = p.id;
  el.problemTitle.textContent = p.title;
  const limits = p.limits || {};
  el.problemMeta.textContent = [p.difficulty, limits.timeMs && `${limits.timeMs} ms`, limits.memoryMb && `${limits.memoryMb} MB`]
    .filter(Boolean).join(' · ');
  el.statement.replaceChildren(renderMarkdown(p.statement || ''));
  el.examples.replaceChildren(...(p.examples || []).map((ex, i) => {
    const box = document.createElement('div');
    box.className = 'example';
    box.append(block(`Input ${i + 1}`, ex.input), block(`Output ${i + 1}`, ex.output));
    return box;
  }));
  // The language picker: the problem's starters, in the server's order.
  const langs = Object.keys(p.starter || {});
  el.language.replaceChildren(...langs.map((l) => new Option(LANGUAGE_NAMES[l] || l, l)));
  const pick = langs.includes('python') ? 'python' : langs[0];
  if (pick) { el.language.value = pick; loadLanguage(pick); }
}

function block(title, text) {
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  const pre = document.createElement('pre');
  pre.textContent = text ?? '';
  fig.append(cap, pre);
  return fig;
}

function drawVerdicts() {
  const b = zone.battle;
  if (!b) return;
  // The newest submission of each player (players first, in the battle's order).
  const newest = new Map();
  for (const [id, s] of b.subs) {
    const had = newest.get(s.player);
    if (!had || s.submittedAt >= had.s.submittedAt) newest.set(s.player, { id, s });
  }
  const rows = b.players.map((p) => {
    const row = document.createElement('div');
    row.className = 'verdict-row' + (p === zone.me ? ' mine' : '');
    row.dataset.player = p;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = p === zone.me ? `${p} (you)` : p;
    const strip = document.createElement('ol');
    strip.className = 'cells';
    const label = document.createElement('span');
    label.className = 'final';
    const n = newest.get(p);
    if (!n) {
      label.textContent = 'no submission yet';
      label.dataset.verdict = 'none';
    } else {
      const { s } = n;
      row.dataset.submission = n.id;
      const count = Math.max(s.of, s.tests.length);
      for (let i = 0; i < count; i++) {
        const v = s.tests[i] || null;
        // A judged submission stops at its first failed test: the rest were not run.
        const blank = s.verdict === 'judging' ? 'pending' : 'skipped';
        const li = document.createElement('li');
        li.className = 'cell';
        li.dataset.verdict = v || blank;
        li.textContent = v || '';
        li.title = `test ${i + 1}: ${v ? VERDICT_WORDS[v] || v : blank === 'pending' ? 'not judged yet' : 'not run'}`;
        strip.append(li);
      }
      label.dataset.verdict = s.verdict;
      label.textContent = s.verdict === 'judging'
        ? `judging… ${s.tests.filter(Boolean).length}/${s.of || '?'}`
        : `${s.verdict} · ${VERDICT_WORDS[s.verdict] || ''} (${s.passed}/${s.of})`;
    }
    row.append(who, strip, label);
    return row;
  });
  el.verdicts.replaceChildren(...rows);
}

function drawStandings(table, standings) {
  const body = table.tBodies[0];
  body.replaceChildren(...(standings || []).map((s) => {
    const tr = document.createElement('tr');
    if (s.player === zone.me) tr.className = 'mine';
    tr.dataset.player = s.player;
    const penalty = s.solved ? fmtClock(s.penaltyMs) : '—';
    for (const [text, cls] of [[s.rank, 'n'], [s.player, ''], [s.solved ? '✓' : '—', 'n'], [penalty, 'n'], [s.attempts, 'n']]) {
      const td = document.createElement('td');
      td.textContent = String(text ?? '');
      if (cls) td.className = cls;
      tr.append(td);
    }
    tr.title = PENALTY_NOTE;
    return tr;
  }));
}

function drawResult() {
  const b = zone.battle;
  show('result');
  el.resultWinner.dataset.winner = b.winner || '';
  if (!b.winner) el.resultWinner.textContent = 'No winner.';
  else if (b.winner === zone.me) el.resultWinner.textContent = `You won, ${b.winner}!`;
  else el.resultWinner.textContent = `Winner: ${b.winner}`;
  el.resultReason.textContent = b.reason ? `Reason: ${REASON_WORDS[b.reason] || b.reason}` : '';
  drawStandings(el.resultStandings, b.standings);
  if (isPlayer(b)) askRatingAfter(b);
  else el.resultRating.textContent = '';
}

// --- the clock ----------------------------------------------------------------------

function serverNow() {
  return Date.now() + zone.offsetMs;
}

function fmtClock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function tick() {
  const b = zone.battle;
  if (!b) return;
  const now = serverNow();
  let label, text;
  if (b.state === 'ended') { label = 'Ended'; text = '—'; }
  else if (b.state === 'paused') { label = 'Paused'; text = fmtClock(b.remainingMs ?? 0); }
  else if (b.startsAt && now < b.startsAt) { label = 'Starts in'; text = String(Math.ceil((b.startsAt - now) / 1000)); }
  else {
    if (b.state === 'countdown') { b.state = 'running'; enableControls(); }
    label = 'Time left';
    text = b.endsAt ? fmtClock(b.endsAt - now) : '—';
  }
  el.clockLabel.textContent = label;
  el.clock.textContent = text;
  el.clock.dataset.state = b.state === 'countdown' || (b.startsAt && now < b.startsAt) ? 'countdown' : b.state;
}
setInterval(tick, 250);

// --- the editor ---------------------------------------------------------------------

function loadLanguage(lang) {
  const b = zone.battle;
  if (!b) return;
  if (b.language) b.drafts[b.language] = el.editor.value;
  b.language = lang;
  el.editor.value = b.drafts[lang] ?? ((b.problem && b.problem.starter && b.problem.starter[lang]) || '').replace(/^\n/, '');
}

el.language.addEventListener('change', () => loadLanguage(el.language.value));

// Tab indents (four spaces) instead of leaving the field; after Esc the next Tab leaves,
// so a keyboard user is never trapped in the editor.
let tabLeaves = false;
el.editor.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { tabLeaves = true; return; }
  if (e.key !== 'Tab') { if (e.key !== 'Shift') tabLeaves = false; return; }
  if (tabLeaves || e.ctrlKey || e.altKey || e.metaKey) { tabLeaves = false; return; }
  e.preventDefault();
  const ta = el.editor;
  const { selectionStart: start, selectionEnd: end, value } = ta;
  if (e.shiftKey) { // outdent the current line
    const lineStart = value.lastIndexOf('\n', start - 1) + 1;
    const spaces = /^ {1,4}/.exec(value.slice(lineStart))?.[0].length || 0;
    if (spaces) {
      ta.setRangeText('', lineStart, lineStart + spaces, 'preserve');
      ta.setSelectionRange(Math.max(lineStart, start - spaces), Math.max(lineStart, end - spaces));
    }
    return;
  }
  ta.setRangeText('    ', start, end, 'end');
});
el.editor.addEventListener('blur', () => { tabLeaves = false; });

el.submitBtn.addEventListener('click', async () => {
  const b = zone.battle;
  if (!b) return;
  hideBox(el.submitError);
  const source = el.editor.value;
  // One key per click: a retried send of the same click is judged once.
  const key = 'k' + [...crypto.getRandomValues(new Uint8Array(9))].map((x) => x.toString(16).padStart(2, '0')).join('');
  el.submitBtn.disabled = true;
  el.submitStatus.textContent = 'Submitting…';
  const res = await call('submit', { battleId: b.battleId, language: el.language.value, source, key });
  enableControls();
  if (!res.ok) {
    el.submitStatus.textContent = '';
    failed(el.submitError, 'Submit', res);
    return;
  }
  el.submitStatus.textContent = res.duplicate ? 'Already submitted; judging…' : 'Submitted; judging…';
  if (zone.battle === b && !b.subs.has(res.submissionId)) {
    b.subs.set(res.submissionId, {
      player: zone.me, language: el.language.value, verdict: 'judging', passed: 0, of: 0,
      failedTest: null, tests: [], submittedAt: serverNow(),
    });
    drawVerdicts();
  }
});

el.forfeitBtn.addEventListener('click', async () => {
  const b = zone.battle;
  if (!b || !confirm('Forfeit this battle? Your opponent wins.')) return;
  const res = await call('forfeit', { battleId: b.battleId });
  if (!res.ok) failed(el.submitError, 'Forfeit', res);
});

// --- rating -------------------------------------------------------------------------

// The player's record (`GET /api/players/{id}`), or null: no battle has named the player
// yet (404), or it could not be read (the caller polls again either way).
async function fetchPlayer(id) {
  try {
    const res = await fetch(`/api/players/${encodeURIComponent(id)}`, { cache: 'no-store' });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

// The records rate a battle after its `ended` reaches SQL, and list the change in the
// player's `history` under the battle's id: poll until this battle's entry is there. (The
// page once compared the rating before and after the battle instead; a player whose
// record did not exist yet when the battle started was then shown the default 1200 as
// the "new rating" before the records had applied anything, and a change of 0 was never
// recognised.)
async function askRatingAfter(b) {
  el.resultRating.textContent = 'Rating: waiting for the records…';
  delete el.resultRating.dataset.delta;
  let p;
  let entry;
  for (let i = 0; i < RATING_POLL_TRIES && zone.battle === b; i++) {
    p = await fetchPlayer(zone.me);
    entry = p && Array.isArray(p.history) ? p.history.find((h) => h.battleId === b.battleId) : undefined;
    if (entry) break;
    await new Promise((ok) => setTimeout(ok, RATING_POLL_MS));
  }
  if (zone.battle !== b) return;
  if (entry && typeof entry.before === 'number' && typeof entry.after === 'number') {
    const d = entry.after - entry.before;
    el.resultRating.textContent = `Rating: ${entry.before} → ${entry.after} (${d >= 0 ? '+' : ''}${d})`;
    el.resultRating.dataset.delta = String(d);
  } else if (p && typeof p.rating === 'number') {
    el.resultRating.textContent = `Rating: ${p.rating} (this battle's change is not in the records yet)`;
  } else {
    el.resultRating.textContent = 'Rating: not available.';
  }
}

// --- start ------------------------------------------------------------------------

el.whoPlayer.value = savedPlayer;
const token = savedToken();
if (token) el.whoToken.value = token;
const asked = new URLSearchParams(location.search).get('player');
const first = asked && PLAYER_RE.test(asked) ? asked : savedPlayer;
el.whoPlayer.value = first;
show('lobby');
enableControls();
connect(authFor(first, token));
