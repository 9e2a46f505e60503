-- GCRA rate limit on Redis's clock (instance clock skew is moot), as a function other
-- scripts are prepended with: `rate_limit.lua` (the shared limiter) and scripts that
-- check a limit inside their own atomic step (the hunt's `claim.lua`), so the limit
-- costs no round trip of its own.
-- gcra(key, rate, burst): at most `rate` actions per second with a burst of `burst` on
-- `key`. Returns 0 when allowed (the action is counted in `key`), else the milliseconds
-- until a retry could pass (>= 1; nothing is written).
local function gcra(key, rate, burst)
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
    return math.max(1, math.ceil(new_tat - now - tolerance))
  end
  -- The TTL as an integer string: a number argument would be formatted by Redis with
  -- printf's floating-point path.
  redis.call('SET', key, string.format('%.3f', new_tat), 'PX',
    string.format('%d', math.ceil(new_tat - now) + 1))
  return 0
end
