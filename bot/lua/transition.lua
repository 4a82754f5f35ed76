-- Records a vote or a final transition (decision, expiry, cancellation) on a pending approval.
-- Exactly one final transition wins; a voter counts once toward the quorum.
-- KEYS: approval, pending, expiry, audit, audit_tail, outbox, pending_by_level
-- ARGV: mode ('vote' | 'final'), voter, vote_json, decisive ('1' when this vote ends it at once), quorum,
--       new_status, decision_json, now_ms, retention_s, vote_body, vote_sha, final_body, final_sha,
--       refused_body, refused_sha, channel, id, maxlen_outbox, not_before_ms,
--       identities (newline-separated: every identity of the voter), reset ('1': a modify under a quorum
--       clears earlier votes, which endorsed other arguments)
local status = redis.call('HGET', KEYS[1], 'st')
if not status then return {'missing', '', {}} end
local id, retention = ARGV[17], tonumber(ARGV[9])
if status ~= 'pending' then
  if ARGV[14] ~= '' then audit_append(KEYS[4], KEYS[5], KEYS[1], ARGV[14], ARGV[15]) end
  return {'conflict', status, redis.call('HGETALL', KEYS[1])}
end
if ARGV[19] ~= '' and tonumber(redis.call('HGET', KEYS[1], 'ems')) > tonumber(ARGV[19]) then
  return {'early', status, redis.call('HGETALL', KEYS[1])}
end
local new_status = ARGV[6]
if ARGV[1] == 'vote' then
  local field = 'v:' .. ARGV[2]
  local identities = {}
  for identity in string.gmatch(ARGV[20] or '', '[^\n]+') do table.insert(identities, identity) end
  local duplicate = redis.call('HEXISTS', KEYS[1], field) == 1
  for _, identity in ipairs(identities) do
    if redis.call('HEXISTS', KEYS[1], 'p:' .. identity) == 1 then duplicate = true end
  end
  if duplicate then
    if ARGV[14] ~= '' then audit_append(KEYS[4], KEYS[5], KEYS[1], ARGV[14], ARGV[15]) end
    return {'duplicate', status, redis.call('HGETALL', KEYS[1])}
  end
  if ARGV[21] == '1' then
    for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
      local kind = string.sub(key, 1, 2)
      if kind == 'v:' or kind == 'p:' then redis.call('HDEL', KEYS[1], key) end
    end
  end
  redis.call('HSET', KEYS[1], field, ARGV[3], 'upd', ARGV[8])
  for _, identity in ipairs(identities) do redis.call('HSET', KEYS[1], 'p:' .. identity, '1') end
  audit_append(KEYS[4], KEYS[5], KEYS[1], ARGV[10], ARGV[11])
  local votes = 0
  for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(key, 1, 2) == 'v:' then votes = votes + 1 end
  end
  if ARGV[4] ~= '1' and votes < tonumber(ARGV[5]) then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[18], '*', 'type', 'voted', 'id', id, 'status', status)
    redis.call('PUBLISH', ARGV[16], id .. ' ' .. status)
    return {'voted', status, redis.call('HGETALL', KEYS[1])}
  end
end
redis.call('HSET', KEYS[1], 'st', new_status, 'dec', ARGV[7], 'upd', ARGV[8])
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HINCRBY', KEYS[7], redis.call('HGET', KEYS[1], 'lvl'), -1)
redis.call('EXPIRE', KEYS[1], retention)
audit_append(KEYS[4], KEYS[5], KEYS[1], ARGV[12], ARGV[13])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[18], '*', 'type', 'decided', 'id', id, 'status', new_status)
redis.call('PUBLISH', ARGV[16], id .. ' ' .. new_status)
return {'final', new_status, redis.call('HGETALL', KEYS[1])}
