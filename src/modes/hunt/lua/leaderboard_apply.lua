-- Apply a batch of claims to the leaderboards, each at most once (idempotent projection):
-- one call per batch instead of one per claim. The apply-once markers and the boards
-- share the tag {lb}, so the checks and the ZINCRBYs are one atomic step on one Cluster
-- slot. Increments are summed per player (and per map and player) first, so a batch costs
-- one ZINCRBY per distinct player, not one per claim.
-- KEYS[1] = arena:{lb}:global; for claim i (1-based): KEYS[2i] = arena:{lb}:map:<id>,
-- KEYS[2i+1] = arena:{lb}:applied:<claimId>.
-- ARGV[1] = ttl in seconds; for claim i: ARGV[2i] = player, ARGV[2i+1] = value.
-- Returns one 1 (applied now) or 0 (it already was) per claim, in order.
local global_key = KEYS[1]
local ttl_s = ARGV[1]
local n = (#KEYS - 1) / 2
local applied = {}
local global = {}  -- player -> sum
local boards = {}  -- map board key -> {player -> sum}
for i = 1, n do
  local board_key = KEYS[2 * i]
  local player = ARGV[2 * i]
  local value = tonumber(ARGV[2 * i + 1])
  if redis.call('SET', KEYS[2 * i + 1], '1', 'NX', 'EX', ttl_s) then
    applied[i] = 1
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
  redis.call('ZINCRBY', global_key, v, player)
end
for board_key, b in pairs(boards) do
  for player, v in pairs(b) do
    redis.call('ZINCRBY', board_key, v, player)
  end
  redis.call('EXPIRE', board_key, ttl_s)
end
return applied
