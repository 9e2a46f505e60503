-- Matchmaking in one atomic step, whichever instance calls: queue a player (pairing them
-- at once with the longest-waiting compatible player), take them out, or put back a
-- partner whose battle could not start. All keys share the tag {mm}, so the step runs on
-- one Cluster slot; a partner's `queued` key is built from ARGV[4] (same tag, same slot)
-- because who the partner is is only known inside the step.
--
-- A queue is a zset player -> enqueue ms (Redis clock). `queued:<player>` holds
-- '<difficulty>:<enqueue ms>' with a PX TTL: it is the entry's liveness. A queue entry
-- whose `queued` key expired or names another queue is stale and is dropped when it
-- reaches a queue's head, so a player who went away is never paired once the TTL passed.
-- A player is in at most one queue, and never meets themself: they are taken out of
-- their old queue before candidates are looked at.
--
-- KEYS: queue:easy, queue:medium, queue:hard, queue:any, queued:<player>
-- ARGV: op ('queue'|'leave'|'restore'), player, difficulty, queued-key prefix, ttl ms,
--       enqueue ms (restore only)
-- Replies: {'queued', waited_ms}            queued (or still queued: waited so far)
--          {'paired', partner, partner_waited_ms, partner_difficulty, partner_enqueued_ms}
--          {'left', '1'|'0'}                 leave: whether the player was queued
local op, player, want, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl = tonumber(ARGV[5])
local index = {easy = 1, medium = 2, hard = 3, any = 4}
local mine = KEYS[5]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function parse(v)
  if not v then return nil, nil end
  local d, ms = string.match(v, '^(%a+):(%d+)$')
  if not d or not index[d] then return nil, nil end
  return d, tonumber(ms)
end

-- Take `player` out of whatever queue their (current) entry names.
local function unqueue(current)
  local d = parse(current)
  if d then redis.call('ZREM', KEYS[index[d]], player) end
  redis.call('DEL', mine)
end

local function enqueue(d, at)
  local q = KEYS[index[d]]
  redis.call('ZADD', q, at, player)
  redis.call('SET', mine, d .. ':' .. at, 'PX', ttl)
  -- The zset itself lives while anyone queues in it: once nobody has for a TTL, every
  -- entry in it is stale.
  redis.call('PEXPIRE', q, ttl)
end

local current = redis.call('GET', mine)

if op == 'leave' then
  if not current then return {'left', '0'} end
  unqueue(current)
  return {'left', '1'}
end

if op == 'restore' then
  -- Only if the player did not queue again meanwhile (their new entry wins).
  if not current then enqueue(want, tonumber(ARGV[6])) end
  return {'queued', '0'}
end

if op ~= 'queue' then
  return redis.error_reply('matchmake.lua: unknown op ' .. tostring(op))
end

if current then
  local d, at = parse(current)
  if d == want then
    -- Queuing again for the same thing keeps the place and renews the TTL.
    redis.call('PEXPIRE', mine, ttl)
    redis.call('PEXPIRE', KEYS[index[d]], ttl)
    return {'queued', tostring(math.max(now - at, 0))}
  end
  unqueue(current)
end

-- The live head of queue `qi` (stale heads dropped; at most 64 per call, so one step
-- stays short; later calls drop the rest).
local function head(qi, qd)
  for _ = 1, 64 do
    local h = redis.call('ZRANGE', KEYS[qi], 0, 0)
    if #h == 0 then return nil, nil end
    local who = h[1]
    local d, at = parse(redis.call('GET', prefix .. who))
    if d == qd and who ~= player then return who, at end
    redis.call('ZREM', KEYS[qi], who)
  end
  return nil, nil
end

local candidates
if want == 'any' then candidates = {'easy', 'medium', 'hard', 'any'} else candidates = {want, 'any'} end
local partner, partner_at, partner_d
for _, qd in ipairs(candidates) do
  local who, at = head(index[qd], qd)
  if who and (not partner or at < partner_at) then
    partner, partner_at, partner_d = who, at, qd
  end
end

if not partner then
  enqueue(want, now)
  return {'queued', '0'}
end
redis.call('ZREM', KEYS[index[partner_d]], partner)
redis.call('DEL', prefix .. partner)
return {'paired', partner, tostring(math.max(now - partner_at, 0)), partner_d, tostring(partner_at)}
