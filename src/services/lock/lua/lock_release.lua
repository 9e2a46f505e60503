-- Release a Redlock lease on one master, only if the caller still holds it.
-- Returns 1 if the key held this token and was deleted, 0 otherwise (expired, or another
-- holder's lease: never touched).
local lease_key = KEYS[1]  -- arena:{lock:<r>}:lease
local token = ARGV[1]      -- the holder's random token

if redis.call('GET', lease_key) == token then
  return redis.call('DEL', lease_key)
end
return 0
