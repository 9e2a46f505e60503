-- GCRA rate limit shared by every instance (prepended with `gcra.lua`): at most `rate`
-- actions per second with a burst of `burst`, per key.
-- Returns {1, 0} when allowed (the action is counted), {0, retry_after_ms} when limited
-- (nothing is written).
local key = KEYS[1]                 -- arena:{rl:<action>:<subject>}
local rate = tonumber(ARGV[1])      -- actions per second
local burst = tonumber(ARGV[2])     -- actions allowed at once

local retry = gcra(key, rate, burst)
if retry > 0 then
  return {0, retry}
end
return {1, 0}
