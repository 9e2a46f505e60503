-- Record a submission's verdict (after battle_lib.lua), once: whoever applies a verdict
-- second (a retry, another instance recovering it) changes nothing. In the same step:
-- the outbox `submission` event, the standings, and the end when this verdict decides
-- the battle (1v1: the first all-AC submission wins; a group ends when every player
-- still in it has solved). A verdict arriving after the battle ended is recorded and
-- counts for nothing. All keys share {b<k>}.
-- Returns {'scored', sub, record}, {'ended', sub, record}, {'judged', sub, ''} (the
-- battle is over or gone), {'already', sub, ''} or {'none', '', ''}.
local record_key = KEYS[1]
local subs_key = KEYS[2]
local active_key = KEYS[3]
local outbox_key = KEYS[4]
local battle_id = ARGV[1]
local sub_id = ARGV[2]
local result = cjson.decode(ARGV[3])

local raw_sub = redis.call('HGET', subs_key, sub_id)
if not raw_sub then
  return {'none', '', ''}
end
local sub = cjson.decode(raw_sub)
if sub.verdict ~= 'judging' then
  return {'already', raw_sub, ''}
end
local now = redis_now()
sub.verdict = result.verdict
sub.passed = result.passed
sub.of = result.of
sub.failedTest = result.failedTest
sub.timeMs = result.timeMs
sub.tests = result.tests
sub.message = result.message
sub.judgedAt = now
local encoded = cjson.encode(sub)
redis.call('HSET', subs_key, sub_id, encoded)
redis.call('XADD', outbox_key, '*', 'event', 'submission', 'key', sub_id .. ':judged',
  'record', encoded, 'at', now)

local raw = redis.call('GET', record_key)
if not raw then
  return {'judged', encoded, ''}
end
local record = cjson.decode(raw)
if record.state ~= 'active' then
  return {'judged', encoded, ''}
end
record.standings = compute_standings(record, subs_key)
if sub.verdict == 'AC' then
  local winner = nil
  if #record.players == 2 then
    winner = sub.player
  else
    local all = true
    for _, st in ipairs(record.standings) do
      if not st.forfeited and st.solved == 0 then all = false end
    end
    if all then winner = sole_leader(record.standings) end
  end
  if winner then
    return {'ended', encoded,
      finish(record, battle_id, winner, 'solved', now, active_key, record_key, outbox_key)}
  end
end
local updated = cjson.encode(record)
redis.call('SET', record_key, updated, 'KEEPTTL')
return {'scored', encoded, updated}
