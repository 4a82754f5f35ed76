-- Takes one use of a standing grant, atomically: twenty concurrent requests and `max_uses: 5` give 5 uses.
-- KEYS: grant. ARGV: now_ms.
-- Returns the grant's use count after this one, or 0 when the grant is gone, revoked, expired or used up.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'rev') == 1 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'ems')) <= tonumber(ARGV[1]) then return 0 end
local max = redis.call('HGET', KEYS[1], 'max')
local uses = tonumber(redis.call('HGET', KEYS[1], 'uses') or '0')
if max and max ~= '' and uses >= tonumber(max) then return 0 end
return redis.call('HINCRBY', KEYS[1], 'uses', 1)
