-- One room event: append it to the room's history and SPUBLISH it on the room's shard
-- channel in one step, so an event has an offset if and only if it was published.
-- The channel shares the keys' hash tag (one Cluster slot).
local meta = KEYS[1]      -- hash: epoch, seq
local log = KEYS[2]       -- stream: entries 0-<offset> {e, o, d}
local channel = ARGV[1]
local new_epoch = ARGV[2] -- used only when the room has no epoch (new, or history lost)
local maxlen = ARGV[3]
local ttl = ARGV[4]        -- seconds
local origin = ARGV[5]    -- the publishing instance
local event = ARGV[6]
local body = ARGV[7]      -- a JSON object

local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  -- A history without its epoch belongs to a lost one: never serve it under the new one.
  epoch = new_epoch
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch)
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
-- Numbers become text once, here, as integers: Lua's own conversion (`..`) and Redis's
-- for a number argument take printf's floating-point path (measured: a sixth of this
-- script's time). Arguments passed on untouched stay the strings they came as.
local offset = string.format('%d', seq)

-- The body as delivered: the object with epoch and offset added (its last byte is `}`).
local tail = '"epoch":"' .. epoch .. '","offset":' .. offset .. '}'
local data
if string.match(body, '^%s*{%s*}%s*$') then
  data = '{' .. tail
else
  data = string.sub(body, 1, -2) .. ',' .. tail
end

redis.call('XADD', log, 'MAXLEN', '~', maxlen, '0-' .. offset, 'e', event, 'o', origin, 'd', data)
redis.call('EXPIRE', meta, ttl)
redis.call('EXPIRE', log, ttl)
local heard = redis.call('SPUBLISH', channel,
  origin .. '\n' .. epoch .. '\n' .. offset .. '\n' .. event .. '\n' .. data)
return {epoch, seq, heard}
