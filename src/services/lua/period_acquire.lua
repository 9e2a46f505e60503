-- Win period n of a leader race at most once across all instances, whatever their
-- clock skew. Returns {won, now_ms}: won is 1 if this caller won period n, 0 if it did
-- not, -1 if n is not the current period by Redis's clock; now_ms is Redis's clock, so
-- the caller can learn how far its own clock is off.
local lock_key = KEYS[1]   -- arena:{<race>}:lock:<n>
local last_key = KEYS[2]   -- arena:{<race>}:last
local n = tonumber(ARGV[1])
local token = ARGV[2]
local ttl_ms = ARGV[3]
local period_ms = tonumber(ARGV[4])  -- 0: no clock check (tests, tools)
local slack_ms = tonumber(ARGV[5])   -- a caller this early for period n still counts

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- One clock for every instance: period n is only won while Redis's clock is in it
-- (or within slack_ms before it), so a host whose clock runs ahead cannot win early.
if period_ms > 0 then
  local current = math.floor(now / period_ms)
  local soon = math.floor((now + slack_ms) / period_ms)
  if n ~= current and n ~= soon then
    return {-1, now}
  end
end

-- Monotonic fence: a period at or below the last one won is never won again, even if a
-- skewed clock makes an instance reach it after its lease key has expired.
local last = tonumber(redis.call('GET', last_key) or '-1')
if n <= last then
  return {0, now}
end
if not redis.call('SET', lock_key, token, 'NX', 'PX', ttl_ms) then
  return {0, now}
end
redis.call('SET', last_key, n)
return {1, now}
