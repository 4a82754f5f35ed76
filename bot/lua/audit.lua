-- Appends one entry to the hash-chained audit stream; shared by every script that writes state.
-- The caller passes the body and its SHA-256 (hashing a long body in Lua is slow); the chain hash
-- covers the previous entry's hash and this body's digest.
-- Keyed (Store passes 'hmac-sha256:<key id>:<key hex>' as the script's LAST ARGV, read once here):
--   hash = HMAC-SHA256(key, prev .. ":" .. body_sha), stored with alg and kid, so write access to Redis alone
--   cannot rewrite an entry and recompute the chain. The key lives only in this call's arguments.
-- Plain (no key argument; entries written before keying): hash = sha256(prev .. ":" .. body_sha).
-- A verifier recomputes both from the bodies.
-- When approval_key is given, the entry id is appended to that approval's `au` field (its history).
local AUDIT_ALG, AUDIT_KID, AUDIT_KEY_HEX = string.match(ARGV[#ARGV] or '', '^(hmac%-sha256):(%x+):(%x+)$')
local AUDIT_INNER, AUDIT_OUTER
if AUDIT_KEY_HEX then AUDIT_INNER, AUDIT_OUTER = hmac_pads(hex_to_bytes(AUDIT_KEY_HEX)) end

local function audit_append(stream_key, tail_key, approval_key, body, body_sha)
  local prev = redis.call('GET', tail_key) or ''
  local h, entry_id
  if AUDIT_INNER then
    h = hmac_sha256_hex(AUDIT_INNER, AUDIT_OUTER, prev .. ':' .. body_sha)
    entry_id = redis.call('XADD', stream_key, '*', 'body', body, 'hash', h, 'alg', AUDIT_ALG, 'kid', AUDIT_KID)
  else
    h = sha256_hex(prev .. ':' .. body_sha)
    entry_id = redis.call('XADD', stream_key, '*', 'body', body, 'hash', h)
  end
  redis.call('SET', tail_key, h)
  if approval_key ~= '' and redis.call('EXISTS', approval_key) == 1 then
    local history = redis.call('HGET', approval_key, 'au')
    if history then history = history .. ',' .. entry_id else history = entry_id end
    redis.call('HSET', approval_key, 'au', history)
  end
  return entry_id
end
