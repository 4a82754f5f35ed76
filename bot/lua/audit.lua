-- Appends one entry to the hash-chained audit stream; shared by every script that writes state.
-- The caller passes the body and its SHA-256 (hashing a long body in Lua is slow); the chain hash
-- covers the previous entry's hash and this body's digest: hash = sha256(prev .. ":" .. body_sha).
-- Only the body and the chain hash are stored; a verifier recomputes both from the bodies.
-- When approval_key is given, the entry id is appended to that approval's `au` field (its history).
local function audit_append(stream_key, tail_key, approval_key, body, body_sha)
  local prev = redis.call('GET', tail_key) or ''
  local h = sha256_hex(prev .. ':' .. body_sha)
  local entry_id = redis.call('XADD', stream_key, '*', 'body', body, 'hash', h)
  redis.call('SET', tail_key, h)
  if approval_key ~= '' and redis.call('EXISTS', approval_key) == 1 then
    local history = redis.call('HGET', approval_key, 'au')
    if history then history = history .. ',' .. entry_id else history = entry_id end
    redis.call('HSET', approval_key, 'au', history)
  end
  return entry_id
end
