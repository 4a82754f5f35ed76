-- Appends one audit entry that goes with no state change (notification sent, refused click, bad token).
-- KEYS: audit, audit_tail, approval ('' for none).
-- ARGV[1]: one JSON object {body, sha}; ARGV[2]: the audit chain key (see audit.lua: always the last ARGV)
local a = cjson.decode(ARGV[1])
return audit_append(KEYS[1], KEYS[2], KEYS[3], a.body, a.sha)
