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
  /** The token's display name (`name` claim), when it has one. */
  name?: string;
}

export interface RoomReq {
  /** 1–64 chars of `[A-Za-z0-9_:.-]`; `player:*` is reserved. */
  room: string;
}

/** A position in a room's history: `offset` counts the room's events from 1 under `epoch`. */
export interface RoomPosition {
  epoch: string;
  offset: number;
}

/** `join_room`: with the position of the last event seen (both fields or neither), the
 * missed events are sent first, or `resync`. */
export interface JoinReq extends RoomReq {
  epoch?: string;
  offset?: number;
}

export interface JoinAck {
  room: string;
  /** The room's newest position (null before its first event). */
  epoch: string | null;
  offset: number | null;
  /** Missed events sent before this ack. */
  replayed: number;
  /** The position was not covered: a `resync` was sent instead. */
  resync: boolean;
}

/** What the client missed is gone from the room's history: start over from here. */
export interface Resync {
  room: string;
  epoch: string | null;
  offset: number | null;
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

export interface AttackEvent extends AttackReq, RoomPosition {
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
  /** A problem of the bank; else a random one (of `difficulty`, if given). */
  problemId?: string;
  difficulty?: "easy" | "medium" | "hard" | "any";
  /** 30–7200; default BATTLE_DURATION_S. */
  durationS?: number;
}

export type Language = "python" | "javascript" | "c" | "cpp";
export type Verdict = "AC" | "WA" | "TLE" | "MLE" | "RE" | "CE" | "OLE" | "IE";

/** A problem as clients see it: never the hidden tests. */
export interface Problem {
  id: string;
  title: string;
  difficulty: "easy" | "medium" | "hard";
  /** Markdown. */
  statement: string;
  examples: { input: string; output: string; explanation?: string }[];
  limits: { timeMs: number; memoryMb: number };
  comparator: { kind: "exact" | "whitespace" | "float"; tolerance?: number };
  starter: Partial<Record<Language, string>>;
}

export interface BattleStarted {
  battleId: string;
  players: string[];
  problem: Problem | null;
  /** Redis-clock ms: the countdown ends, the clock runs out. */
  startsAt: number;
  endsAt: number;
  durationS: number;
}

export interface Standing {
  player: string;
  /** 1-based; ties share a rank. */
  rank: number;
  solved: number;
  penaltyMs: number;
  attempts: number;
  solvedAtMs: number | null;
  forfeited: boolean;
}

export interface Battle {
  battleId: string;
  players: string[];
  state: "active" | "ended";
  createdAt: number;
  endedAt?: number;
  /** One of the players, or null when the battle ended without a winner. */
  winner: string | null;
  reason?: "solved" | "time" | "forfeit" | "disconnect" | "ended";
  standings?: Standing[];
  problemId?: string;
  startsAt?: number;
  endsAt?: number;
  createdBy: string;
}

export interface SubmitReq {
  battleId: string;
  language: Language;
  source: string;
  /** Idempotency key (1–64 `[A-Za-z0-9_-]`): a retry is the same submission. */
  key?: string;
}

export interface SubmissionUpdate {
  battleId: string;
  submissionId: string;
  player: string;
  /** 1-based; 0 = the compile step failed (CE). */
  test: number;
  of: number;
  verdict: Verdict;
  timeMs: number;
}

export interface SubmissionResult {
  battleId: string;
  submissionId: string;
  player: string;
  language: Language;
  verdict: Verdict;
  passed: number;
  of: number;
  failedTest: number | null;
  timeMs: number;
  submittedAt: number;
  judgedAt: number | null;
  /** Only with BATTLE_DURABILITY=replica: did a replica confirm the change in time? */
  durable?: boolean;
}

/** The whole battle (ack of `battle_state`): verdicts, never anyone's source. */
export interface BattleView {
  battleId: string;
  players: string[];
  state: "countdown" | "running" | "paused" | "ended";
  problem: Problem | null;
  startsAt: number;
  endsAt: number;
  durationS: number;
  remainingMs: number;
  pausedAt: number | null;
  pauseReason: string | null;
  winner: string | null;
  reason: string | null;
  forfeited: string[];
  standings: Standing[];
  submissions: (Omit<SubmissionResult, "battleId" | "verdict"> & {
    verdict: Verdict | "judging";
    tests: { test: number; verdict: Verdict; timeMs: number; memoryKb: number }[];
  })[];
  /** Redis's clock when read: time the countdown against it. */
  serverNow: number;
  createdAt: number;
  endedAt: number | null;
  createdBy: string;
}

export interface HuntMap {
  mapId: number;
  /** HUNT_MAP_WIDTH x HUNT_MAP_HEIGHT of the server (16 x 16 by default, up to 4096 each). */
  width: number;
  height: number;
  /** Only the tiles with a treasure (HUNT_MAP_TREASURES, at most 4096): tile (y·width+x)
   *  as a string -> value. Every other tile of the map is claimable and worth 0. */
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

/**
 * With BATTLE_DURABILITY=replica, a battle change's ack or event says whether one replica
 * of its Redis master confirmed it within BATTLE_WAIT_MS: `true` survives that master's
 * kill -9; `false` stands but a failover may undo it. Absent when the setting is off, or
 * when the call changed nothing (a start that found the battle active).
 */
export interface Durable {
  durable?: boolean;
}

export interface ServerToClientEvents {
  welcome: (w: Welcome) => void;
  attack: (a: AttackEvent) => void;
  resync: (r: Resync) => void;
  server_tick: (t: ServerTick) => void;
  battle_started: (b: BattleStarted) => void;
  /** `durable`: see {@link Durable}. */
  battle_ended: (b: Battle & Durable) => void;
  submission_update: (u: SubmissionUpdate) => void;
  submission_result: (r: SubmissionResult) => void;
  battle_leaderboard: (l: { battleId: string; standings: Standing[] }) => void;
  battle_paused: (p: { battleId: string; reason: string; remainingMs: number }) => void;
  battle_resumed: (r: { battleId: string; endsAt: number; remainingMs: number }) => void;
  map_created: (m: HuntMap) => void;
  tile_claimed: (c: TileClaimed) => void;
  leaderboard: (l: Leaderboard) => void;
}

export interface ClientToServerEvents {
  join_room: (req: JoinReq, ack: (res: Ack<JoinAck>) => void) => void;
  leave_room: (req: RoomReq, ack: (res: Ack<{ room: string }>) => void) => void;
  attack: (req: AttackReq, ack: (res: Ack) => void) => void;
  start_battle: (
    req: StartBattleReq,
    ack: (res: Ack<{ battleId: string; players: string[]; created: boolean } & Durable>) => void,
  ) => void;
  end_battle: (
    req: { battleId: string; winner?: string },
    ack: (res: Ack<{ battleId: string } & Durable>) => void,
  ) => void;
  submit: (req: SubmitReq, ack: (res: Ack<{ submissionId: string; duplicate: boolean } & Durable>) => void) => void;
  forfeit: (req: { battleId: string }, ack: (res: Ack<{ battleId: string } & Durable>) => void) => void;
  battle_state: (req: { battleId: string }, ack: (res: Ack<BattleView>) => void) => void;
  /** Queue for a 1v1, or be paired at once (`queued: false`; both players get `battle_started`). */
  queue_battle: (
    req: { difficulty: "easy" | "medium" | "hard" | "any" },
    ack: (res: Ack<({ queued: true } | { queued: false; battleId: string }) & Durable>) => void,
  ) => void;
  leave_queue: (req: Record<string, never>, ack: (res: Ack<{ left: boolean } & Durable>) => void) => void;
  /** `durable` only with CLAIM_DURABILITY=replica: did a replica confirm the claim in time? */
  claim: (req: ClaimReq, ack: (res: Ack<{ value: number; durable?: boolean }>) => void) => void;
}
