-- Claim one tile of one map, exactly once, in one atomic step: the player's claim rate
-- limit, validate the map and the tile, compare-and-set the tile's owner, append the
-- claim to the partition's stream, publish its `tile_claimed`. Prepended with the shared `gcra(key, rate, burst)`
-- (services/lua/gcra.lua), so the limit costs no round trip of its own.
-- Every key shares the map's partition tag {p<k>} (one Cluster slot): the limit is
-- therefore per player per partition (see keys.rs `claim_limit` for what that bounds).
-- Replies: {'claimed', value, entry_id} | {'taken', owner} | {'expired'} | {'invalid'}
--        | {'no_map'} | {'rate_limited', retry_after_ms}
local map_key = KEYS[1]     -- arena:{p<k>}:map:<id>             hash: width height expiresAt v:<tile>...
local owners_key = KEYS[2]  -- arena:{p<k>}:map:<id>:owners      hash: tile -> player
local stream_key = KEYS[3]  -- arena:{p<k>}:claims               stream of claims
local limit_key = KEYS[4]   -- arena:{p<k>}:rl:claim:<player>    GCRA state
local map_id = ARGV[1]
local tile = tonumber(ARGV[2])
local player = ARGV[3]
local now_ms = tonumber(ARGV[4])
local maxlen = ARGV[5]
local ttl_s = ARGV[6]          -- the owners hash's TTL in seconds
local rate = tonumber(ARGV[7])  -- claims per second, and the burst
local channel = ARGV[8]         -- arena:{p<k>}:claimed, the partition's shard channel

-- The limit first, as the separate limiter did: every attempt that gets past it spends
-- budget, whatever its outcome; a limited one writes nothing.
local retry = gcra(limit_key, rate, rate)
if retry > 0 then
  return {'rate_limited', retry}
end
local m = redis.call('HMGET', map_key, 'width', 'height', 'expiresAt', 'v:' .. ARGV[2])
if not m[1] then
  return {'no_map'}
end
if now_ms >= tonumber(m[3]) then
  return {'expired'}
end
local size = tonumber(m[1]) * tonumber(m[2])
if not tile or tile ~= math.floor(tile) or tile < 0 or tile >= size then
  return {'invalid'}
end
-- A tile without treasure is claimable and worth 0. Its value is checked before anything
-- is written and becomes text once, here, as an integer: a number argument to
-- redis.call is formatted by Redis with printf's floating-point path.
local value = tonumber(m[4] or '0')
if not value or value ~= math.floor(value) then
  return redis.error_reply('claim.lua: tile ' .. ARGV[2] .. ' of map ' .. map_id .. ' has no integer value')
end
local value_s = string.format('%d', value)
-- The compare-and-set: only the first claim of a tile sets its owner.
if redis.call('HSETNX', owners_key, ARGV[2], player) == 0 then
  return {'taken', redis.call('HGET', owners_key, ARGV[2])}
end
redis.call('EXPIRE', owners_key, ttl_s)
local claim_id = map_id .. ':' .. ARGV[2]
local entry_id = redis.call('XADD', stream_key, 'MAXLEN', '~', maxlen, '*',
  'mapId', map_id, 'tile', ARGV[2], 'player', player, 'value', value_s,
  'claimId', claim_id, 'at', ARGV[4])
-- `tile_claimed` leaves in the claim's own step: a claim is broadcast if and only if it
-- happened, and the instance pays no second round trip for it. The body is the event's
-- JSON as clients get it, built here once (`cjson.encode` escapes the player id); the
-- entry id in front lets a reader say which claims it has seen.
redis.call('SPUBLISH', channel, entry_id .. '\n{"mapId":' .. map_id .. ',"tile":' .. ARGV[2]
  .. ',"player":' .. cjson.encode(player) .. ',"value":' .. value_s .. '}')
return {'claimed', value, entry_id}
