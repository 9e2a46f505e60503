-- Extend a Redlock lease on one master, only if the caller still holds it.
-- Returns 1 if the key held this token and now expires ttl_ms from now, 0 otherwise (a key
-- that expired is not recreated: a lease that lapsed on this master stays lapsed).
local lease_key = KEYS[1]  -- arena:{lock:<r>}:lease
local token = ARGV[1]      -- the holder's random token
local ttl_ms = ARGV[2]

if redis.call('GET', lease_key) == token then
  return redis.call('PEXPIRE', lease_key, ttl_ms)
end
return 0
