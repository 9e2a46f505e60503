-- Shared by the scripts that score or end a battle; prepended to each of them (Redis
-- scripts cannot call one another). Holds the ICPC rule and the one way a battle ends,
-- so the live standings, the stored ones and the outbox event are computed in one place.

-- Redis's clock, in ms: every arena instance and judge agrees on it.
local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- cjson decodes JSON null as a sentinel that is truthy in Lua.
local function present(v)
  return v ~= nil and v ~= cjson.null
end

local PENALTY_MS = 20 * 60 * 1000

-- ICPC standings over the battle's submissions (the hash subs_key): solved first, then
-- penalty (battle time of the first AC + 20 min per wrong submission before it), ties
-- share a rank, forfeited players last. CE, IE and submissions still being judged cost
-- nothing.
local function compute_standings(record, subs_key)
  local forfeited = {}
  if present(record.forfeited) then
    for _, p in ipairs(record.forfeited) do forfeited[p] = true end
  end
  local per = {}
  for _, p in ipairs(record.players) do
    per[p] = {player = p, solved = 0, penaltyMs = 0, attempts = 0, solvedAtMs = cjson.null,
              forfeited = forfeited[p] or false, wrong = 0}
  end
  local subs = {}
  for _, raw in ipairs(redis.call('HVALS', subs_key)) do
    subs[#subs + 1] = cjson.decode(raw)
  end
  table.sort(subs, function(a, b)
    if a.elapsedMs ~= b.elapsedMs then return a.elapsedMs < b.elapsedMs end
    return a.submissionId < b.submissionId
  end)
  for _, s in ipairs(subs) do
    local st = per[s.player]
    if st and st.solved == 0 then
      if s.verdict == 'AC' then
        st.solved = 1
        st.attempts = st.attempts + 1
        st.solvedAtMs = s.elapsedMs
        st.penaltyMs = s.elapsedMs + PENALTY_MS * st.wrong
      elseif s.verdict ~= 'judging' and s.verdict ~= 'CE' and s.verdict ~= 'IE' then
        st.wrong = st.wrong + 1
        st.attempts = st.attempts + 1
      end
    end
  end
  local list = {}
  for _, p in ipairs(record.players) do
    per[p].wrong = nil
    list[#list + 1] = per[p]
  end
  table.sort(list, function(a, b)
    if a.forfeited ~= b.forfeited then return not a.forfeited end
    if a.solved ~= b.solved then return a.solved > b.solved end
    if a.penaltyMs ~= b.penaltyMs then return a.penaltyMs < b.penaltyMs end
    return a.player < b.player
  end)
  for i, st in ipairs(list) do
    local prev = list[i - 1]
    if prev and prev.forfeited == st.forfeited and prev.solved == st.solved
        and prev.penaltyMs == st.penaltyMs then
      st.rank = prev.rank
    else
      st.rank = i
    end
  end
  return list
end

-- The player alone at rank 1 with a solve, or '' (a tie, or nobody solved).
local function sole_leader(standings)
  local first, second = standings[1], standings[2]
  if first and first.solved > 0 and not first.forfeited and (not second or second.rank ~= 1) then
    return first.player
  end
  return ''
end

-- End the battle: state, time, winner, reason; clear the pairing's active pointer (only
-- if it still names this battle); append `ended` to the outbox. Returns the record JSON.
local function finish(record, battle_id, winner, reason, now, active_key, record_key, outbox_key)
  record.state = 'ended'
  record.endedAt = now
  record.reason = reason
  record.pausedAt = nil
  if winner ~= '' then record.winner = winner else record.winner = nil end
  local updated = cjson.encode(record)
  redis.call('SET', record_key, updated, 'KEEPTTL')
  if redis.call('GET', active_key) == battle_id then
    redis.call('DEL', active_key)
  end
  redis.call('XADD', outbox_key, '*', 'event', 'ended', 'key', battle_id .. ':ended',
    'record', updated, 'at', now)
  return updated
end
