-- Revokes a grant once, with its audit entry and an outbox event (Slack tells its creator when it was
-- revoked automatically); a second revoke changes nothing.
-- KEYS: grant, version, audit, audit_tail, outbox. ARGV: revocation_json, entry_body, entry_sha, grant id,
--       maxlen_outbox, [chain key]
-- Returns 1 revoked now, 0 already revoked, -1 no such grant.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'rev', ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
audit_append(KEYS[3], KEYS[4], '', ARGV[2], ARGV[3])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', 'type', 'grant_revoked', 'id', ARGV[4], 'status', 'revoked')
return 1
