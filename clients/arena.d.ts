// Types of arena's Socket.IO protocol (default namespace), for socket.io-client v4:
//
//   import { io, Socket } from "socket.io-client";
//   import type { ServerToClientEvents, ClientToServerEvents } from "./arena";
//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> =
//     io("https://arena.example", { auth: { token } });
//
// README.md's protocol table is the prose form of this file; a test keeps the event
// names of the two in step, and `tsc --noEmit` checks this file against the stock client.

/** The handshake `auth` payload: a signed token (token mode) or a name (dev mode). */
export type Auth = { token: string; player?: string } | { player?: string };

/** Stable error codes an ack or a connect error may carry (modes add their own). */
export type ErrorCode =
  | "bad_request"
  | "not_in_room"
  | "rate_limited"
  | "payload_too_large"
  | "unavailable"
  | "timeout"
  | "internal"
  | "not_found"
  | "unknown_event"
  | "too_many_rooms"
  | "unauthorized"
  | "token_expired"
  | "forbidden"
  | "forbidden_origin"
  | "tile_taken"
  | "map_expired"
  | "invalid_tile"
  | "unknown_map"
  | (string & {});

/** Every ack: `{ok: true, ...}` or `{ok: false, error}`. */
export type Ack<T extends object = {}> =
  | ({ ok: true } & T)
  | { ok: false; error: { code: ErrorCode; message: string; [detail: string]: unknown } };

export interface Welcome {
  instanceId: string;
  socketId: string;
  /** The token's `sub` in token mode. */
  player: string;
}

export interface RoomReq {
  /** 1–64 chars of `[A-Za-z0-9_:.-]`; `player:*` is reserved. */
  room: string;
}

export interface AttackReq {
  room: string;
  /** 0–1000. */
  damage: number;
  /** Names the attack for retries (1–64 chars of `[A-Za-z0-9_:.-]`). */
  id?: string;
  /** Extra fields travel to every member unchanged. */
  [extra: string]: unknown;
}

export interface AttackEvent extends AttackReq {
  from: string;
  instanceId: string;
  /** The client's `id`, or a server-made `s-<32 hex>`. */
  eventId: string;
}

export interface ServerTick {
  /** floor(now / TICK_MS), the same on every instance. */
  tick: number;
  instanceId: string;
  /** Unix ms. */
  at: number;
}

export interface StartBattleReq {
  /** 2–16 distinct player ids; the same set in any order is the same pairing. */
  players: string[];
}

export interface BattleStarted {
  battleId: string;
  players: string[];
}

export interface Battle {
  battleId: string;
  players: string[];
  state: "active" | "ended";
  createdAt: number;
  endedAt?: number;
  /** One of the players, when the battle ended with a winner named. */
  winner?: string;
  createdBy: string;
}

export interface HuntMap {
  mapId: number;
  width: number;
  height: number;
  /** tile (y·width+x) as a string -> value. */
  treasures: Record<string, number>;
  expiresAt: number;
}

export interface ClaimReq {
  mapId: number;
  tile: number;
}

export interface TileClaimed {
  mapId: number;
  tile: number;
  player: string;
  value: number;
}

export interface Leaderboard {
  entries: { rank: number; player: string; score: number }[];
}

export interface ServerToClientEvents {
  welcome: (w: Welcome) => void;
  attack: (a: AttackEvent) => void;
  server_tick: (t: ServerTick) => void;
  battle_started: (b: BattleStarted) => void;
  battle_ended: (b: Battle) => void;
  map_created: (m: HuntMap) => void;
  tile_claimed: (c: TileClaimed) => void;
  leaderboard: (l: Leaderboard) => void;
}

export interface ClientToServerEvents {
  join_room: (req: RoomReq, ack: (res: Ack<{ room: string }>) => void) => void;
  leave_room: (req: RoomReq, ack: (res: Ack<{ room: string }>) => void) => void;
  attack: (req: AttackReq, ack: (res: Ack) => void) => void;
  start_battle: (
    req: StartBattleReq,
    ack: (res: Ack<{ battleId: string; players: string[]; created: boolean }>) => void,
  ) => void;
  end_battle: (req: { battleId: string; winner?: string }, ack: (res: Ack<{ battleId: string }>) => void) => void;
  claim: (req: ClaimReq, ack: (res: Ack<{ value: number }>) => void) => void;
}
