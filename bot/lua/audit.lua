-- Appends one entry to the hash-chained audit stream; shared by every script that writes state.
-- The caller passes the body and its SHA-256 (hashing a long body in Lua is slow); the chain hash
-- covers the previous entry's hash and this body's digest: hash = sha256(prev .. ":" .. body_sha).
local function audit_append(stream_key, tail_key, index_key, body, body_sha, index_ttl)
  local prev = redis.call('GET', tail_key) or ''
  local h = sha256_hex(prev .. ':' .. body_sha)
  local entry_id = redis.call('XADD', stream_key, '*', 'body', body, 'sha', body_sha, 'prev', prev, 'hash', h)
  redis.call('SET', tail_key, h)
  if index_key ~= '' then
    redis.call('RPUSH', index_key, entry_id)
    if index_ttl > 0 then redis.call('EXPIRE', index_key, index_ttl) end
  end
  return entry_id
end
