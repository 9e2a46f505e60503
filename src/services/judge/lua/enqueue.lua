-- Queue one submission: its token key and its stream entry, in one step.
-- KEYS[1] job key (arena:{judge}:job:<token>), KEYS[2] jobs stream
-- ARGV[1] token, ARGV[2] submission JSON, ARGV[3] ttl seconds, ARGV[4] stream maxlen
-- Returns the entry id, or 0 when the token is already taken.
local job_key, jobs = KEYS[1], KEYS[2]
local token, submission, ttl, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not redis.call('SET', job_key, 'queued', 'NX', 'EX', ttl) then
  return 0
end
local t = redis.call('TIME')
local now_ms = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('XADD', jobs, 'MAXLEN', '~', maxlen, '*',
  'token', token, 'submission', submission, 'at', now_ms)
