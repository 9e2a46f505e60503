// A tiny Socket.IO v4 client (Engine.IO v4, WebSocket transport only): connect
// with auth, events, acks, ping/pong and reconnect; the page ships no third-party code.

export class ArenaSocket {
  constructor(auth) {
    this.auth = auth;
    this.handlers = new Map();
    this.acks = new Map(); // ack id -> {fn, timer}
    this.nextAckId = 0;
    this.ws = null;
    this.connected = false;
    this.attempt = 0;
    this.pingTimer = null;
    this.retryTimer = null;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  // Returns false when not connected; the ack (if any) then gets a local error
  // so callers handle "offline" the same way as a server-side refusal.
  emit(event, data, ackFn) {
    if (!this.connected) {
      if (ackFn) queueMicrotask(() => ackFn(localError('disconnected', 'not connected to the server')));
      return false;
    }
    let id = '';
    if (ackFn) {
      id = String(this.nextAckId++);
      const timer = setTimeout(() => this.settle(id, [localError('timeout', 'no answer from the server')]), 10000);
      this.acks.set(id, { fn: ackFn, timer });
    }
    this.send('42' + id + JSON.stringify([event, data]));
    return true;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.fire('state', this.attempt === 0 ? 'connecting' : 'reconnecting');
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(proto + '://' + location.host + '/socket.io/?EIO=4&transport=websocket');
    this.ws = ws;
    ws.onmessage = (e) => { if (this.ws === ws) this.onEnginePacket(String(e.data)); };
    ws.onclose = () => this.drop(ws);
    ws.onerror = () => {}; // a close event always follows
  }

  send(raw) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(raw);
  }

  fire(event, ...args) {
    for (const fn of this.handlers.get(event) || []) {
      try { fn(...args); } catch (err) { console.error('handler for', event, 'failed:', err); }
    }
  }

  settle(id, args) {
    const pending = this.acks.get(id);
    if (!pending) return;
    this.acks.delete(id);
    clearTimeout(pending.timer);
    pending.fn(...args);
  }

  // The server pings every pingInterval; silence past pingInterval+pingTimeout
  // means a dead link that the browser may take minutes to notice by itself.
  armHeartbeat() {
    clearTimeout(this.pingTimer);
    const hb = this.heartbeat || { pingInterval: 25000, pingTimeout: 20000 };
    const ws = this.ws;
    this.pingTimer = setTimeout(() => { ws.close(); this.drop(ws); }, hb.pingInterval + hb.pingTimeout);
  }

  onEnginePacket(data) {
    switch (data[0]) {
      case '0': // open handshake: now ask for the default namespace
        this.heartbeat = JSON.parse(data.slice(1));
        this.armHeartbeat();
        this.send('40' + JSON.stringify(this.auth));
        break;
      case '1': this.ws.close(); break;
      case '2': this.armHeartbeat(); this.send('3'); break;
      case '4': this.onSocketPacket(data.slice(1)); break;
      default: break; // '3' pong and '6' noop need nothing
    }
  }

  onSocketPacket(p) {
    const type = p[0];
    let i = 1;
    if (p[i] === '/') { // explicit namespace: only the default one is ours
      const comma = p.indexOf(',', i);
      const nsp = p.slice(i, comma < 0 ? p.length : comma);
      if (nsp !== '/') return;
      i = comma < 0 ? p.length : comma + 1;
    }
    let id = '';
    while (i < p.length && p[i] >= '0' && p[i] <= '9') id += p[i++];
    let body;
    try { body = i < p.length ? JSON.parse(p.slice(i)) : undefined; } catch (err) {
      console.warn('unparsable socket.io packet', p, err);
      return;
    }
    switch (type) {
      case '0': // CONNECT accepted
        this.connected = true;
        this.attempt = 0;
        this.sid = body && body.sid;
        this.fire('state', 'connected');
        this.fire('connect');
        break;
      case '1': this.ws.close(); break; // server-side disconnect
      case '2': { // EVENT, possibly asking for an ack
        const [name, ...args] = Array.isArray(body) ? body : [];
        if (id) args.push((...reply) => this.send('43' + id + JSON.stringify(reply)));
        this.fire(name, ...args);
        break;
      }
      case '3': this.settle(id, Array.isArray(body) ? body : [body]); break;
      case '4': // CONNECT_ERROR: e.g. the server refused our auth
        this.fire('connect_error', body || {});
        this.ws.close();
        break;
      default: console.warn('ignoring socket.io packet type', type); // binary: unused here
    }
  }

  drop(ws) {
    if (ws !== this.ws) return; // an older socket finishing its close
    this.ws = null;
    clearTimeout(this.pingTimer);
    const wasConnected = this.connected;
    this.connected = false;
    for (const id of [...this.acks.keys()]) this.settle(id, [localError('disconnected', 'connection lost')]);
    if (wasConnected) this.fire('disconnect');
    // Exponential backoff with jitter so a restarted instance is not stampeded.
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.fire('state', 'reconnecting', Math.round(delay));
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

function localError(code, message) {
  return { ok: false, error: { code, message } };
}
