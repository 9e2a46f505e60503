-- INCRBY a counter guarded by a lock, only if the writer's fencing token is not stale.
-- Same fence rule as fenced_set.lua. Returns {1, new_value} when committed, {0, newest}
-- when the token is stale.
local fence_key = KEYS[1]  -- arena:{lock:<r>}:fence
local data_key = KEYS[2]   -- a counter in the same {lock:<r>} hash tag
local token = tonumber(ARGV[1])
local increment = ARGV[2]

local newest = tonumber(redis.call('GET', fence_key) or '0')
if token < newest then
  return {0, newest}
end
if token > newest then
  redis.call('SET', fence_key, ARGV[1])
end
return {1, redis.call('INCRBY', data_key, increment)}
