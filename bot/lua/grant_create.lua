-- Stores a new grant with its audit entry and bumps the version every process's grant index checks.
-- KEYS: grant, all grants, version, audit, audit_tail. ARGV: id, doc_json, created_ms, expires_ms, max_uses
--       ('' for none), entry_body, entry_sha, [chain key]
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'uses', 0, 'fails', 0, 'ems', ARGV[4], 'max', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('INCR', KEYS[3])
audit_append(KEYS[4], KEYS[5], '', ARGV[6], ARGV[7])
return 1
