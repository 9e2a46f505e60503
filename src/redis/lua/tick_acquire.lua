-- Win tick interval n at most once across all instances, whatever their clock skew.
-- Returns 1 if this caller won interval n, 0 otherwise.
local lock_key = KEYS[1]   -- arena:{tick}:lock:<n>
local last_key = KEYS[2]   -- arena:{tick}:last
local n = tonumber(ARGV[1])
local token = ARGV[2]
local ttl_ms = ARGV[3]

-- Monotonic fence: an interval at or below the last one won is never won again, even if
-- a skewed clock makes an instance reach it after its lease key has expired.
local last = tonumber(redis.call('GET', last_key) or '-1')
if n <= last then
  return 0
end
if not redis.call('SET', lock_key, token, 'NX', 'PX', ttl_ms) then
  return 0
end
redis.call('SET', last_key, n)
return 1
