-- Results of coding battles: judged submissions, final standings and Elo ratings. The
-- same common subset of SQL as 0001 (TEXT, BIGINT, ON CONFLICT) for SQLite and
-- PostgreSQL. No foreign keys to battles or players: the outbox may apply a
-- submission before its battle's `created` event (two consumers, one partition), and
-- every row here is written only under its event's applied_events row anyway.

-- What the battle record says about its problem and its clock; NULL for battles
-- recorded before coding battles existed.
ALTER TABLE battles ADD COLUMN problem_id TEXT;
ALTER TABLE battles ADD COLUMN reason TEXT;
ALTER TABLE battles ADD COLUMN starts_at BIGINT;
ALTER TABLE battles ADD COLUMN ends_at BIGINT;

-- One row per judged submission (the outbox's `submission` event).
CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    battle_id TEXT NOT NULL,
    player TEXT NOT NULL,
    language TEXT NOT NULL,
    -- Shown only to its author (GET /api/battles/{id} with the author's token).
    source TEXT NOT NULL,
    verdict TEXT NOT NULL,
    passed BIGINT NOT NULL,
    of_tests BIGINT NOT NULL,
    failed_test BIGINT,
    -- The per-test verdicts as the judge reported them: a JSON array of
    -- {test, verdict, timeMs, memoryKb}, kept as text (both databases read it back).
    tests TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    judged_at BIGINT NOT NULL
);

CREATE INDEX submissions_by_battle ON submissions (battle_id, submitted_at);

-- A battle's final standings (the `ended` event), ICPC order.
CREATE TABLE battle_standings (
    battle_id TEXT NOT NULL,
    player TEXT NOT NULL,
    rank BIGINT NOT NULL,
    solved BIGINT NOT NULL,
    penalty_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    solved_at_ms BIGINT,
    PRIMARY KEY (battle_id, player)
);

-- Each player's Elo rating and rated battles; the truth behind the Redis zset
-- arena:{ratings}:board (a cache of this table).
CREATE TABLE ratings (
    player TEXT PRIMARY KEY,
    rating BIGINT NOT NULL DEFAULT 1200,
    games BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX ratings_by_rating ON ratings (rating);

-- One row per player per rated battle: the rating before and after it.
CREATE TABLE rating_history (
    player TEXT NOT NULL,
    battle_id TEXT NOT NULL,
    before BIGINT NOT NULL,
    after BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (player, battle_id)
);

CREATE INDEX rating_history_by_player ON rating_history (player, at);
