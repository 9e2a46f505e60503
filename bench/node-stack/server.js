// The Node.js stack arena is compared with (scripts/bench.sh side-by-side): socket.io 4
// and @socket.io/redis-adapter on one Redis, speaking the subset of arena's rooms
// protocol that `arena bench fanout` and `arena bench connections` use: `welcome`,
// `join_room` / `leave_room` / `attack` with arena's acks, the `attack` broadcast with
// `{from, instanceId, eventId}`, `server_tick`, and a `/status` with arena's field names.
//
//   REDIS_URL=redis://127.0.0.1:6379 PORT=4800 INSTANCES=2 node server.js
//
// INSTANCES > 1 forks one process per port (PORT, PORT+1, ...), as arena runs one
// process per instance. ADAPTER=sharded uses the sharded adapter (SPUBLISH per room,
// Redis 7) instead of the classic one (one pattern subscription per namespace).
"use strict";
const http = require("node:http");
const fs = require("node:fs");
const crypto = require("node:crypto");
const { fork } = require("node:child_process");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

const env = process.env;
const PORT = Number(env.PORT || 4800);
const INSTANCES = Number(env.INSTANCES || 1);
const REDIS_URL = env.REDIS_URL || "redis://127.0.0.1:6379";
const TICK_MS = Number(env.TICK_MS || 2000);
const MAX_PAYLOAD_BYTES = Number(env.MAX_PAYLOAD_BYTES || 65536);
const NAME = /^[A-Za-z0-9_:.-]{1,64}$/;

if (INSTANCES > 1 && env.NODE_STACK_CHILD === undefined) {
  // The parent only starts the instances and passes signals on.
  const kids = [];
  for (let i = 0; i < INSTANCES; i++) {
    kids.push(fork(__filename, [], {
      env: { ...env, PORT: String(PORT + i), INDEX: String(i), NODE_STACK_CHILD: "1" },
    }));
  }
  const stop = (sig) => kids.forEach((k) => k.kill(sig));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  let alive = kids.length;
  kids.forEach((k) => k.on("exit", (code) => { if (--alive === 0) process.exit(code ?? 0); }));
  return;
}

const INDEX = Number(env.INDEX || 0);
const instanceId = `node-${PORT}`;
const started = Date.now();

// The same sources as arena's /status: RSS from /proc/self/statm, CPU from getrusage
// (process.cpuUsage is getrusage(RUSAGE_SELF), as arena's base/process.rs).
const PAGE = 4096;
function usage() {
  let rss = 0;
  try {
    rss = Number(fs.readFileSync("/proc/self/statm", "utf8").split(" ")[1]) * PAGE;
  } catch { /* not Linux: 0, as arena */ }
  const cpu = process.cpuUsage();
  return { rssBytes: rss, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

const httpServer = http.createServer((req, res) => {
  if (req.url === "/health" || req.url === "/status") {
    const body = req.url === "/health" ? { status: "ok" } : {
      instanceId, pid: process.pid, status: "ok", timestamp: Date.now(),
      uptimeSeconds: (Date.now() - started) / 1000,
      connectedClients: io.engine.clientsCount, version: "node-stack", tickMs: TICK_MS,
      ...usage(),
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
    return;
  }
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, { maxHttpBufferSize: MAX_PAYLOAD_BYTES * 2 });

const fail = (code, message) => ({ ok: false, error: { code, message } });
const answer = (ack) => (typeof ack === "function" ? ack : () => {});
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

io.on("connection", (socket) => {
  const asked = socket.handshake.auth && socket.handshake.auth.player;
  const player = typeof asked === "string" && NAME.test(asked)
    ? asked : `guest-${crypto.randomBytes(6).toString("hex")}`;
  socket.join(`player:${player}`);
  socket.emit("welcome", { instanceId, socketId: socket.id, player });

  socket.on("join_room", (p, ack) => {
    const reply = answer(ack);
    if (!isObject(p) || typeof p.room !== "string" || !NAME.test(p.room) || p.room.startsWith("player:")) {
      return reply(fail("bad_request", "expected {room}"));
    }
    socket.join(p.room);
    reply({ ok: true, room: p.room, epoch: null, offset: null, replayed: 0, resync: false });
  });

  socket.on("leave_room", (p, ack) => {
    const reply = answer(ack);
    if (!isObject(p) || typeof p.room !== "string" || !NAME.test(p.room)) {
      return reply(fail("bad_request", "expected {room}"));
    }
    socket.leave(p.room);
    reply({ ok: true, room: p.room });
  });

  socket.on("attack", (p, ack) => {
    const reply = answer(ack);
    if (!isObject(p)) return reply(fail("bad_request", "attack payload must be an object"));
    const size = Buffer.byteLength(JSON.stringify(p));
    if (size > MAX_PAYLOAD_BYTES) return reply(fail("payload_too_large", `payload is ${size} bytes`));
    if (typeof p.room !== "string" || !NAME.test(p.room)) return reply(fail("bad_request", "room is required"));
    if (!Number.isInteger(p.damage) || p.damage < 0 || p.damage > 1000) {
      return reply(fail("bad_request", "damage must be an integer from 0 to 1000"));
    }
    if (p.id !== undefined && (typeof p.id !== "string" || !NAME.test(p.id))) {
      return reply(fail("bad_request", "bad id"));
    }
    if (!socket.rooms.has(p.room)) return reply(fail("not_in_room", `join room ${p.room} first`));
    const eventId = p.id ?? `s-${crypto.randomBytes(16).toString("hex")}`;
    io.to(p.room).emit("attack", { ...p, from: player, instanceId, eventId });
    reply({ ok: true });
  });
});

async function main() {
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  pub.on("error", (e) => console.error(`${instanceId}: redis: ${e.message}`));
  sub.on("error", (e) => console.error(`${instanceId}: redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(env.ADAPTER === "sharded"
    ? createShardedAdapter(pub, sub, { subscriptionMode: "dynamic" })
    : createAdapter(pub, sub));
  // One ticker (instance 0) in place of arena's leased race: one broadcast per interval.
  if (INDEX === 0) {
    setInterval(() => {
      const now = Date.now();
      io.emit("server_tick", { tick: Math.floor(now / TICK_MS), instanceId, at: now });
    }, TICK_MS);
  }
  httpServer.listen(PORT, "127.0.0.1", () => console.error(`${instanceId}: listening on ${PORT}`));
  const stop = () => {
    io.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref(); // open sockets do not hold a stop
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  console.error(`${instanceId}: ${e.stack || e}`);
  process.exit(1);
});
