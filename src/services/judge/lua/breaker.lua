-- The judge circuit breaker, one state for the whole fleet (every arena instance runs
-- this script against the same keys). Three operations:
--   ARGV[1] = 'allow'  -> 'closed' | 'probe' (the caller is the fleet's one probe) | 'open'
--   ARGV[1] = 'record' -> records ARGV[7] ('ok' | 'fail'); ARGV[8] = '1' when it was the probe
--   ARGV[1] = 'peek'   -> 'closed' | 'open' | 'half_open' (a probe is out); never lets a
--                         submission through. In half_open with no probe out, the peek is
--                         the probe: a fresh judge heartbeat closes it, none reopens it
--                         (paused battles send no submission that could probe).
-- All return {answer, transition ('' | 'open' | 'half_open' | 'closed'), state}.
-- KEYS[1] breaker hash, KEYS[2] window hash (per-second ok/fail counts),
-- KEYS[3] judges zset (heartbeats), KEYS[4] jobs stream
-- ARGV[2] window seconds, ARGV[3] min calls in window, ARGV[4] failure rate (0..1),
-- ARGV[5] open ms, ARGV[6] heartbeat age bound ms, ARGV[9] probe timeout ms,
-- ARGV[10] queue wait bound ms, ARGV[11] consumer group
local breaker, window, judges, jobs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op = ARGV[1]
local window_s, min_calls, rate = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local open_ms, heartbeat_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local outcome, was_probe = ARGV[7], ARGV[8]
local probe_ms, wait_ms, group = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local sec = tonumber(t[1])
local state = redis.call('HGET', breaker, 'state') or 'closed'
local transition = ''

local function open(reason)
  redis.call('HSET', breaker, 'state', 'open', 'opened_at', now, 'reason', reason, 'probe_until', 0)
  redis.call('DEL', window)
  state = 'open'
  transition = 'open'
end

-- The oldest job no judge has taken yet, in ms of waiting (0 when none).
local function queue_wait()
  if redis.call('EXISTS', jobs) == 0 then return 0 end
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', jobs)
  if not ok then return 0 end
  local last = nil
  for _, g in ipairs(groups) do
    local name, delivered = nil, nil
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] end
      if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if name == group then last = delivered end
  end
  if not last then return 0 end
  local next_entry = redis.call('XRANGE', jobs, '(' .. last, '+', 'COUNT', 1)
  if #next_entry == 0 then return 0 end
  local ms = tonumber(string.match(next_entry[1][1], '^(%d+)-'))
  return now - ms
end

local function judge_alive()
  return redis.call('ZCOUNT', judges, now - heartbeat_ms, '+inf') > 0
end

if op == 'allow' or op == 'peek' then
  if state == 'closed' then
    if not judge_alive() then
      open('no judge heartbeat')
    elseif wait_ms > 0 and queue_wait() > wait_ms then
      open('queue wait over its bound')
    else
      return {'closed', transition, state}
    end
  end
  if state == 'open' then
    local opened = tonumber(redis.call('HGET', breaker, 'opened_at') or '0')
    if now - opened < open_ms then return {'open', transition, state} end
    redis.call('HSET', breaker, 'state', 'half_open', 'probe_until', 0)
    state = 'half_open'
    transition = 'half_open'
  end
  -- half_open: one probe for the whole fleet at a time; everyone else fails fast.
  local until_ms = tonumber(redis.call('HGET', breaker, 'probe_until') or '0')
  if until_ms > now then
    if op == 'peek' then return {'half_open', transition, state} end
    return {'open', transition, state}
  end
  if op == 'peek' then
    if judge_alive() then
      redis.call('HSET', breaker, 'state', 'closed', 'probe_until', 0)
      redis.call('DEL', window)
      return {'closed', 'closed', 'closed'}
    end
    open('no judge heartbeat (peek)')
    return {'open', transition, state}
  end
  redis.call('HSET', breaker, 'probe_until', now + probe_ms)
  return {'probe', transition, state}
end

-- record
if was_probe == '1' then
  if outcome == 'ok' then
    redis.call('HSET', breaker, 'state', 'closed', 'probe_until', 0)
    redis.call('DEL', window)
    return {'closed', 'closed', 'closed'}
  end
  open('probe failed')
  return {'open', transition, state}
end
if state ~= 'closed' then return {state, '', state} end
redis.call('HINCRBY', window, outcome .. ':' .. sec, 1)
redis.call('PEXPIRE', window, window_s * 2000)
local oks, fails = 0, 0
for s = sec - window_s + 1, sec do
  oks = oks + tonumber(redis.call('HGET', window, 'ok:' .. s) or '0')
  fails = fails + tonumber(redis.call('HGET', window, 'fail:' .. s) or '0')
end
local total = oks + fails
if total >= min_calls and fails / total >= rate then
  open('failure rate')
end
return {state, transition, state}
