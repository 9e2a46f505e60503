-- Open a submission (after battle_lib.lua): only a player of a running battle may, and a
-- retried submit with the same idempotency key gets the first one back. Stores it as
-- `judging` with its Redis-clock time and its battle time (`elapsedMs`, pauses not
-- counted), in the same step. All keys share {b<k>}.
-- Returns {'opened', sub}, {'duplicate', sub}, {'none', ''}, {'not_a_player', ''},
-- {'ended', ''}, {'forfeited', ''}, {'paused', ''} or {'countdown', ms_to_start}.
local record_key = KEYS[1]  -- the battle record
local subs_key = KEYS[2]    -- <record>:subs (hash: submission id -> JSON)
local key_key = KEYS[3]     -- <record>:key:<player>:<idempotency key>
local player = ARGV[1]
local sub_id = ARGV[2]
local sub_json = ARGV[3]
local ttl_s = ARGV[4]

local raw = redis.call('GET', record_key)
if not raw then
  return {'none', ''}
end
local record = cjson.decode(raw)
local found = false
for _, p in ipairs(record.players) do
  if p == player then found = true end
end
if not found then
  return {'not_a_player', ''}
end
local prior = redis.call('GET', key_key)
if prior then
  return {'duplicate', redis.call('HGET', subs_key, prior) or ''}
end
if record.state ~= 'active' then
  return {'ended', ''}
end
if present(record.forfeited) then
  for _, p in ipairs(record.forfeited) do
    if p == player then return {'forfeited', ''} end
  end
end
if present(record.pausedAt) then
  return {'paused', ''}
end
local now = redis_now()
if now < record.startsAt then
  return {'countdown', tostring(record.startsAt - now)}
end
if now >= record.endsAt then
  return {'ended', ''}
end
local sub = cjson.decode(sub_json)
sub.submittedAt = now
sub.elapsedMs = record.durationS * 1000 - (record.endsAt - now)
sub.verdict = 'judging'
local encoded = cjson.encode(sub)
redis.call('HSET', subs_key, sub_id, encoded)
redis.call('EXPIRE', subs_key, ttl_s)
redis.call('SET', key_key, sub_id, 'EX', ttl_s)
return {'opened', encoded}
