-- Stop or restart a running battle's clock (after battle_lib.lua), on Redis's clock:
-- `pause` notes when; `resume` moves the end (and a start still ahead) on by the time
-- paused, so nobody loses time to a sick judge. Both are no-ops when already done, so
-- every instance may call them and only one is told it changed something. {b<k>} keys.
-- Returns {'paused', remaining_ms}, {'resumed', record}, {'same', ''} or {'none', ''}.
local record_key = KEYS[1]
local op = ARGV[1]       -- pause | resume
local reason = ARGV[2]

local raw = redis.call('GET', record_key)
if not raw then
  return {'none', ''}
end
local record = cjson.decode(raw)
if record.state ~= 'active' then
  return {'none', ''}
end
local now = redis_now()
if op == 'pause' then
  if present(record.pausedAt) then
    return {'same', ''}
  end
  record.pausedAt = now
  record.pauseReason = reason
  redis.call('SET', record_key, cjson.encode(record), 'KEEPTTL')
  return {'paused', tostring(math.max(0, record.endsAt - now))}
end
if not present(record.pausedAt) then
  return {'same', ''}
end
local shift = now - record.pausedAt
if record.startsAt > record.pausedAt then
  record.startsAt = record.startsAt + shift
end
record.endsAt = record.endsAt + shift
record.pausedMs = (present(record.pausedMs) and record.pausedMs or 0) + shift
record.pausedAt = nil
record.pauseReason = nil
local updated = cjson.encode(record)
redis.call('SET', record_key, updated, 'KEEPTTL')
return {'resumed', updated}
