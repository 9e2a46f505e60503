-- Record a job's result exactly once, then ack its entry. A second recorder (a judge
-- that was presumed dead and resumed, a reclaimed duplicate) only acks.
-- KEYS[1] result key, KEYS[2] job key, KEYS[3] jobs stream, KEYS[4] results stream,
-- KEYS[5] dead-letter stream
-- ARGV[1] report JSON, ARGV[2] ttl seconds, ARGV[3] group, ARGV[4] entry id,
-- ARGV[5] token, ARGV[6] streams maxlen, ARGV[7] judge id,
-- ARGV[8] '' or the dead-letter reason (then the entry is also copied to KEYS[5]),
-- ARGV[9] deliveries
-- Returns 1 when this call recorded the result, 0 when one was there already.
local result_key, job_key, jobs, results, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local report, ttl, group, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local token, maxlen, judge, dead_reason, deliveries = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('EXISTS', result_key) == 1 then
  redis.call('XACK', jobs, group, id)
  return 0
end
redis.call('SET', result_key, report, 'EX', ttl)
redis.call('SET', job_key, 'done', 'EX', ttl)
redis.call('XADD', results, 'MAXLEN', '~', maxlen, '*', 'token', token, 'judge', judge)
if dead_reason ~= '' then
  redis.call('XADD', dead, 'MAXLEN', '~', maxlen, '*', 'token', token, 'entry', id,
    'reason', dead_reason, 'deliveries', deliveries, 'judge', judge)
end
redis.call('XACK', jobs, group, id)
return 1
