-- End a battle (after battle_lib.lua): by a player (`ended`, winner optional), by its
-- clock (`time`: only once its end has passed on Redis's clock and it is not paused), or
-- by a player leaving (`forfeit` / `disconnect`: in a group the others play on until one
-- is left). Standings are computed here, from the stored submissions, and go into the
-- record and the outbox `ended` event in the same atomic step. All keys share {b<k>}.
-- Returns {'ended', record}, {'forfeited', record} (a group plays on), {'none', ''}
-- (unknown or already ended), {'not_a_player', ''}, or {'not_due', endsAt | 'paused'}.
local active_key = KEYS[1]  -- arena:{b<k>}:battle:<pairing>:active
local record_key = KEYS[2]  -- arena:{b<k>}:battle:<pairing>:<ms>-<n>
local outbox_key = KEYS[3]  -- arena:{b<k>}:outbox
local subs_key = KEYS[4]    -- <record>:subs
local battle_id = ARGV[1]
local winner = ARGV[2]      -- '' = none named
local reason = ARGV[3]      -- ended | time | forfeit | disconnect
local actor = ARGV[4]       -- who forfeits ('' otherwise)

local raw = redis.call('GET', record_key)
if not raw then
  return {'none', ''}
end
local record = cjson.decode(raw)
if record.state ~= 'active' then
  return {'none', ''}
end
local function is_player(p)
  for _, x in ipairs(record.players) do
    if x == p then return true end
  end
  return false
end
if winner ~= '' and not is_player(winner) then
  return {'not_a_player', ''}
end
local now = redis_now()

if reason == 'time' then
  if present(record.pausedAt) then
    return {'not_due', 'paused'}
  end
  if present(record.endsAt) and now < record.endsAt then
    return {'not_due', tostring(record.endsAt)}
  end
end

if reason == 'forfeit' or reason == 'disconnect' then
  if not is_player(actor) then
    return {'not_a_player', ''}
  end
  local out = {}
  if present(record.forfeited) then out = record.forfeited end
  local already = false
  for _, p in ipairs(out) do
    if p == actor then already = true end
  end
  if not already then out[#out + 1] = actor end
  record.forfeited = out
  local left = {}
  for _, p in ipairs(record.players) do
    local gone = false
    for _, f in ipairs(out) do
      if f == p then gone = true end
    end
    if not gone then left[#left + 1] = p end
  end
  record.standings = compute_standings(record, subs_key)
  if #left > 1 then
    local updated = cjson.encode(record)
    redis.call('SET', record_key, updated, 'KEEPTTL')
    return {'forfeited', updated}
  end
  winner = left[1] or ''
end

record.standings = compute_standings(record, subs_key)
if reason == 'time' then
  winner = sole_leader(record.standings)
end
return {'ended', finish(record, battle_id, winner, reason, now, active_key, record_key, outbox_key)}
