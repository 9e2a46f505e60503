-- Apply one claim to the leaderboards at most once (idempotent projection).
-- The applied-marker and both boards share the tag {lb}, so the check and the ZINCRBYs
-- are one atomic step on one Cluster slot. Returns 1 if applied now, 0 if it already was.
local global_key = KEYS[1]  -- arena:{lb}:global            zset player -> score
local map_key = KEYS[2]     -- arena:{lb}:map:<id>          zset player -> score
local marker_key = KEYS[3]  -- arena:{lb}:applied:<claimId> string, EX ttl
local player = ARGV[1]
local value = ARGV[2]
local ttl_s = ARGV[3]

if not redis.call('SET', marker_key, '1', 'NX', 'EX', ttl_s) then
  return 0
end
redis.call('ZINCRBY', global_key, value, player)
redis.call('ZINCRBY', map_key, value, player)
redis.call('EXPIRE', map_key, ttl_s)
return 1
