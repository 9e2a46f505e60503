// The /status poller: every 2 s fills the clients and uptime counters and the
// footer line, and marks the counters stale while the instance does not answer.

import { el, fmtDuration } from './page.js';

export async function pollStatus() {
  try {
    const res = await fetch('/status', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = await res.json();
    el.clients.textContent = String(s.connectedClients ?? '—');
    el.uptime.textContent = typeof s.uptimeSeconds === 'number' ? fmtDuration(s.uptimeSeconds) : '—';
    el.version.textContent = `arena ${s.version ?? ''} · instance ${s.instanceId ?? '?'} · pid ${s.pid ?? '?'}`;
    el.clients.parentElement.classList.remove('stale');
  } catch {
    // Keep the last numbers but mark them stale: the instance may be restarting.
    el.clients.parentElement.classList.add('stale');
  } finally {
    setTimeout(pollStatus, 2000);
  }
}
