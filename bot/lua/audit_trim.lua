-- Trims archived entries from the audit stream and records where the rest continues from, in one step.
-- KEYS: audit, checkpoint. ARGV: expected checkpoint ('' for none), last archived id, its hash,
--       new checkpoint (JSON), trim threshold (the id just after the last archived one)
-- Concurrent appends only add ids after the last archived one, so XTRIM MINID never removes one that the
-- archive file does not hold; a concurrent archive or an altered last entry makes this refuse.
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then
  return {0, 'another archive changed the checkpoint meanwhile'}
end
local last = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #last == 0 then return {0, 'the last archived entry is no longer in Redis'} end
local fields, hash = last[1][2], nil
for i = 1, #fields, 2 do if fields[i] == 'hash' then hash = fields[i + 1] end end
if hash ~= ARGV[3] then return {0, 'the last archived entry changed meanwhile'} end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[5])
redis.call('SET', KEYS[2], ARGV[4])
return {1, trimmed}
