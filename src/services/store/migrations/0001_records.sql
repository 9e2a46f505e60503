-- Durable records. One file for SQLite and PostgreSQL alike: only types and statements
-- both accept (TEXT, BIGINT, CHECK, REFERENCES). Times are milliseconds since the Unix
-- epoch. Later work adds submissions, verdicts and standings in new files.

CREATE TABLE players (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    rating BIGINT NOT NULL DEFAULT 1200,
    created_at BIGINT NOT NULL,
    -- Derived from battles; kept here so a profile is one row. Each changes only with
    -- the event that causes it, under that event's applied_events row.
    battles_played BIGINT NOT NULL DEFAULT 0,
    wins BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE battles (
    id TEXT PRIMARY KEY,
    -- The pairing hash: the set of players, order-free.
    pairing TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'ended')),
    created_at BIGINT NOT NULL,
    ended_at BIGINT,
    winner TEXT REFERENCES players (id),
    -- The instance whose handler created it.
    created_by TEXT NOT NULL
);

CREATE INDEX battles_by_pairing ON battles (pairing, created_at);

CREATE TABLE battle_participants (
    battle_id TEXT NOT NULL REFERENCES battles (id),
    player_id TEXT NOT NULL REFERENCES players (id),
    PRIMARY KEY (battle_id, player_id)
);

CREATE INDEX battle_participants_by_player ON battle_participants (player_id);

-- One row per outbox event applied: the event's own key (e.g. `<battleId>:created`) is
-- unique, so an event delivered twice (a consumer died before its XACK) changes nothing
-- the second time. Written in the same transaction as the change it guards.
CREATE TABLE applied_events (
    event_key TEXT PRIMARY KEY,
    -- Where it came from: the stream and the entry id (for tracing a row to Redis).
    stream TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
