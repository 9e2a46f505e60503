// Compiled with `tsc --noEmit` (never run): the protocol types in clients/arena.d.ts
// type-check against the stock socket.io-client, and misuse is a type error.
import { io, Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../clients/arena.js";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000", {
  auth: { token: "…" },
});

socket.on("welcome", (w) => {
  const player: string = w.player;
  void player;
});
socket.on("attack", (a) => {
  const d: number = a.damage;
  const from: string = a.from;
  void d, from;
});
socket.on("server_tick", (t) => void (t.tick + t.at));
socket.on("battle_ended", (b) => {
  const state: "active" | "ended" = b.state;
  void state;
});
socket.emit("join_room", { room: "r1" }, (res) => {
  if (res.ok) {
    const room: string = res.room;
    void room;
  } else {
    const code: string = res.error.code;
    void code;
  }
});
socket.emit("attack", { room: "r1", damage: 5, id: "a-1", spell: "fire" }, () => {});
socket.emit("start_battle", { players: ["alice", "bob"] }, (res) => {
  if (res.ok) void res.created;
});
socket.emit("claim", { mapId: 7, tile: 3 }, (res) => {
  if (res.ok) void (res.value + 1);
});

// @ts-expect-error an unknown event
socket.emit("jump", {});
// @ts-expect-error damage must be a number
socket.emit("attack", { room: "r1", damage: "lots" }, () => {});
// @ts-expect-error join_room needs a room
socket.emit("join_room", {}, () => {});
