-- Records what happened when the agent ran an approved request, once, with its audit entry and event.
-- KEYS: approval, audit, audit_tail, outbox. ARGV: outcome_json, entry_body, entry_sha, id, changes channel,
--       maxlen_outbox, [chain key]
-- Returns 1 recorded, 0 already reported, -1 no such approval.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'out', ARGV[1]) == 0 then return 0 end
audit_append(KEYS[2], KEYS[3], KEYS[1], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'type', 'executed', 'id', ARGV[4], 'status', 'executed')
redis.call('PUBLISH', ARGV[5], ARGV[4] .. ' executed')
return 1
