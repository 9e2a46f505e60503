-- A room's newest position and its history entries in a range, read in one step (the
-- epoch and the entries cannot come from two histories). A script rather than
-- MULTI/EXEC: a Cluster client follows MOVED and ASK for a script (routed by its keys)
-- but not for a transaction, which failed while the room's slot was being migrated.
local meta = KEYS[1]   -- hash: epoch, seq
local log = KEYS[2]    -- stream: entries 0-<offset>
local first = ARGV[1]  -- XRANGE start, e.g. (0-7
local last = ARGV[2]   -- XRANGE end, e.g. 0-12 or +
return {
  redis.call('HMGET', meta, 'epoch', 'seq'),
  redis.call('XRANGE', log, first, last),
}
