-- Apply a batch of claims to the leaderboards, each at most once (idempotent projection):
-- one call per batch instead of one per claim. The apply-once marker of a claim is its
-- tile's bit in its map's bitmap: a tile is claimed at most once per map, so the bit
-- names the claim, and SETBIT's old value says whether it was applied before. A map
-- costs at most width x height / 8 bytes of markers, not one key per claim. The bitmaps
-- and the boards share the tag {lb}, so the checks and the ZINCRBYs are one atomic step
-- on one Cluster slot. Increments are summed per player (and per map and player) first,
-- so a batch costs one ZINCRBY per distinct player, not one per claim.
-- KEYS[1] = arena:{lb}:global; for claim i (1-based): KEYS[2i] = arena:{lb}:map:<id>,
-- KEYS[2i+1] = arena:{lb}:applied:<id> (the map's bitmap).
-- ARGV[1] = ttl in seconds; for claim i: ARGV[3i-1] = player, ARGV[3i] = value,
-- ARGV[3i+1] = tile (below 2^24: the caller checks it).
-- Returns one 1 (applied now) or 0 (it already was) per claim, in order.
local global_key = KEYS[1]
local ttl_s = ARGV[1]
local n = (#KEYS - 1) / 2
local applied = {}
local global = {}  -- player -> sum
local boards = {}  -- map board key -> {player -> sum}
local bitmaps = {} -- bitmap key -> true (to refresh its TTL once)
for i = 1, n do
  local board_key = KEYS[2 * i]
  local bitmap_key = KEYS[2 * i + 1]
  local player = ARGV[3 * i - 1]
  local value = tonumber(ARGV[3 * i])
  if redis.call('SETBIT', bitmap_key, ARGV[3 * i + 1], 1) == 0 then
    applied[i] = 1
    bitmaps[bitmap_key] = true
    global[player] = (global[player] or 0) + value
    local b = boards[board_key]
    if not b then
      b = {}
      boards[board_key] = b
    end
    b[player] = (b[player] or 0) + value
  else
    applied[i] = 0
  end
end
for player, v in pairs(global) do
  redis.call('ZINCRBY', global_key, string.format('%d', v), player)
end
for board_key, b in pairs(boards) do
  for player, v in pairs(b) do
    redis.call('ZINCRBY', board_key, string.format('%d', v), player)
  end
  redis.call('EXPIRE', board_key, ttl_s)
end
for bitmap_key in pairs(bitmaps) do
  redis.call('EXPIRE', bitmap_key, ttl_s)
end
return applied
