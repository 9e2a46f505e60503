-- End a battle: clear the pairing's active pointer (only if it still names this battle)
-- and mark the record ended. Returns the updated record, or false if the battle is
-- unknown or already ended.
local active_key = KEYS[1]  -- arena:{lock:battle:<pairing>}:data:active
local record_key = KEYS[2]  -- arena:{lock:battle:<pairing>}:data:battle:<n>
local battle_id = ARGV[1]
local ended_at = tonumber(ARGV[2])

local raw = redis.call('GET', record_key)
if not raw then
  return false
end
local record = cjson.decode(raw)
if record.state ~= 'active' then
  return false
end
record.state = 'ended'
record.endedAt = ended_at
local updated = cjson.encode(record)
redis.call('SET', record_key, updated, 'KEEPTTL')
if redis.call('GET', active_key) == battle_id then
  redis.call('DEL', active_key)
end
return updated
