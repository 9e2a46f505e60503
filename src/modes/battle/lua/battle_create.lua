-- Create the battle of a pairing, at most once, in one atomic step, and append its
-- `created` event to the partition's outbox in the same step (so the SQL records get
-- every battle Redis has, and only those). Two independent safeguards: the fencing token
-- (a holder whose lease was lost, superseded by a newer lease, cannot write) and the
-- pairing's idempotency key (SET only if absent). All keys share the tag {b<k>}.
-- Returns {'created', id}, {'exists', active_id} or {'stale', newest_token}.
local fence_key = KEYS[1]   -- arena:{b<k>}:battle:<pairing>:fence
local active_key = KEYS[2]  -- arena:{b<k>}:battle:<pairing>:active
local record_key = KEYS[3]  -- arena:{b<k>}:battle:<pairing>:<ms>-<n>
local outbox_key = KEYS[4]  -- arena:{b<k>}:outbox
local token = tonumber(ARGV[1])
local battle_id = ARGV[2]
local record = ARGV[3]
local ttl_s = ARGV[4]
local at_ms = ARGV[5]

local newest = tonumber(redis.call('GET', fence_key) or '0')
if token < newest then
  return {'stale', tostring(newest)}
end
local active = redis.call('GET', active_key)
if active then
  return {'exists', active}
end
if token > newest then
  redis.call('SET', fence_key, ARGV[1])
end
redis.call('SET', active_key, battle_id, 'EX', ttl_s)
redis.call('SET', record_key, record, 'EX', ttl_s)
redis.call('XADD', outbox_key, '*', 'event', 'created', 'key', battle_id .. ':created',
  'record', record, 'at', at_ms)
return {'created', battle_id}
