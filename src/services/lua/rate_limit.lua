-- GCRA rate limit shared by every instance: at most `rate` actions per second with a
-- burst of `burst`, per key. Redis's own clock decides, so instance clock skew is moot.
-- Returns {1, 0} when allowed (the action is counted), {0, retry_after_ms} when limited
-- (nothing is written).
local key = KEYS[1]                 -- arena:{rl:<action>:<subject>}
local rate = tonumber(ARGV[1])      -- actions per second
local burst = tonumber(ARGV[2])     -- actions allowed at once

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = 1000 / rate        -- ms per action
local tolerance = interval * burst  -- how far ahead the theoretical arrival time may run

local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then
  tat = now
end
local new_tat = tat + interval
if new_tat - now > tolerance then
  return {0, math.ceil(new_tat - now - tolerance)}
end
redis.call('SET', key, string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
return {1, 0}
