-- Appends one audit entry that goes with no state change (notification sent, refused click, bad token).
-- KEYS: audit, audit_tail, approval ('' for none). ARGV: body, sha, [chain key: see audit.lua]
return audit_append(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
