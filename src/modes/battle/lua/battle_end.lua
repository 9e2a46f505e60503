-- End a battle: clear the pairing's active pointer (only if it still names this battle),
-- mark the record ended (with its winner, if one is named) and append the `ended` event
-- to the partition's outbox, in one atomic step. All keys share the tag {b<k>}.
-- Returns {'ended', updated_record}, {'none', ''} if the battle is unknown or already
-- ended, or {'not_a_player', ''} if the winner named is not one of its players.
local active_key = KEYS[1]  -- arena:{b<k>}:battle:<pairing>:active
local record_key = KEYS[2]  -- arena:{b<k>}:battle:<pairing>:<ms>-<n>
local outbox_key = KEYS[3]  -- arena:{b<k>}:outbox
local battle_id = ARGV[1]
local ended_at = tonumber(ARGV[2])
local winner = ARGV[3]

local raw = redis.call('GET', record_key)
if not raw then
  return {'none', ''}
end
local record = cjson.decode(raw)
if record.state ~= 'active' then
  return {'none', ''}
end
if winner ~= '' then
  local found = false
  for _, p in ipairs(record.players) do
    if p == winner then
      found = true
    end
  end
  if not found then
    return {'not_a_player', ''}
  end
  record.winner = winner
end
record.state = 'ended'
record.endedAt = ended_at
local updated = cjson.encode(record)
redis.call('SET', record_key, updated, 'KEEPTTL')
if redis.call('GET', active_key) == battle_id then
  redis.call('DEL', active_key)
end
redis.call('XADD', outbox_key, '*', 'event', 'ended', 'key', battle_id .. ':ended',
  'record', updated, 'at', ARGV[2])
return {'ended', updated}
