-- Trims archived entries from the audit stream and records where the rest continues from, in one step.
-- KEYS: audit, checkpoint.
-- ARGV[1]: one JSON object: expected (the checkpoint now, '' for none), last_id (the last archived entry),
--   last_hash (its hash), checkpoint (the new one, JSON text), min_id (the id just after the last archived one)
-- Concurrent appends only add ids after the last archived one, so XTRIM MINID never removes one that the
-- archive file does not hold; a concurrent archive or an altered last entry makes this refuse.
local a = cjson.decode(ARGV[1])
if (redis.call('GET', KEYS[2]) or '') ~= a.expected then
  return {0, 'another archive changed the checkpoint meanwhile'}
end
local last = redis.call('XRANGE', KEYS[1], a.last_id, a.last_id)
if #last == 0 then return {0, 'the last archived entry is no longer in Redis'} end
local fields, hash = last[1][2], nil
for i = 1, #fields, 2 do if fields[i] == 'hash' then hash = fields[i + 1] end end
if hash ~= a.last_hash then return {0, 'the last archived entry changed meanwhile'} end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', a.min_id)
redis.call('SET', KEYS[2], a.checkpoint)
return {1, trimmed}
