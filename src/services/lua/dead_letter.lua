-- Move one pending entry of a consumer group's stream to its dead-letter stream, exactly
-- once even when several consumers try at the same moment: XCLAIM with a minimum idle
-- time lets only the first one take it; the copy and the XACK happen in the same step.
-- Both streams share one hash tag (e.g. arena:{p<k>}:claims and arena:{p<k>}:claims:dead,
-- arena:{b<k>}:outbox and arena:{b<k>}:outbox:dead). Returns 1 if this caller
-- dead-lettered it, 0 otherwise.
local stream_key = KEYS[1]
local dead_key = KEYS[2]
local group = ARGV[1]
local consumer = ARGV[2]
local min_idle_ms = ARGV[3]
local id = ARGV[4]
local deliveries = ARGV[5]
local maxlen = ARGV[6]

local claimed = redis.call('XCLAIM', stream_key, group, consumer, min_idle_ms, id, 'JUSTID')
if #claimed == 0 then
  return 0
end
local fields = {'sourceId', id, 'deliveries', deliveries}
local found = redis.call('XRANGE', stream_key, id, id)
if found[1] then
  for _, v in ipairs(found[1][2]) do
    table.insert(fields, v)
  end
end
redis.call('XADD', dead_key, 'MAXLEN', '~', maxlen, '*', unpack(fields))
redis.call('XACK', stream_key, group, id)
return 1
