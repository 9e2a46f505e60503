-- SET a value guarded by a lock, only if the writer's fencing token is not stale.
-- One atomic step: the fence check and the write cannot be separated by another writer.
-- Returns {1, token} when committed, {0, newest} when the token is older than the newest
-- fencing token issued (INCR at acquire) or seen (an earlier commit) for this resource.
local fence_key = KEYS[1]  -- arena:{lock:<r>}:fence
local data_key = KEYS[2]   -- any key in the same {lock:<r>} hash tag
local token = tonumber(ARGV[1])
local value = ARGV[2]

local newest = tonumber(redis.call('GET', fence_key) or '0')
if token < newest then
  return {0, newest}
end
if token > newest then
  -- A token newer than the counter (only after the fence key was lost): remember it, so
  -- every token issued from now on is newer still and this one can be fenced off.
  redis.call('SET', fence_key, ARGV[1])
end
redis.call('SET', data_key, value)
return {1, token}
