-- Records a vote or a final transition (decision, expiry, cancellation) on a pending approval.
-- Exactly one final transition wins; a person counts once toward the quorum. What a vote does is computed
-- here from the stored state, never from a snapshot the caller read before: a modify of arguments other
-- than the agreed ones clears the earlier votes (they endorsed other arguments) and becomes the agreed
-- arguments; an approve of arguments that are no longer agreed is refused ('changed'); the quorum counts
-- the votes stored at this moment. So every vote that counts toward a decision endorsed its arguments.
-- KEYS: approval, pending, expiry, audit, audit_tail, outbox, pending_by_level, decided (by decision ms)
-- ARGV[1]: one JSON object:
--   mode ('vote' | 'final'), id, new_status, decision (JSON text), now_ms, retention_s, channel,
--   maxlen_outbox, not_before_ms ('' or ms), final_entry and refused_entry ({body, sha} or '');
--   for a vote also: voter (the person's key), identities (every identity of that person), kind
--   ('approve' | 'modify' | 'reject'), args (canonical JSON of the arguments the vote endorses),
--   original (canonical JSON of the request's arguments), quorum, vote (JSON text), vote_entry,
--   reset_entry (the vote's entry when it clears earlier votes), changed_entry (the refusal of an approve of
--   stale arguments), modified ({decision, entry}: an approve's outcome once a modify set the arguments)
-- Hash fields: v:<person> a vote; p:<identity> that identity has voted; agreed: the arguments a modify set.
local a = cjson.decode(ARGV[1])
local function log(entry)
  if type(entry) == 'table' then audit_append(KEYS[4], KEYS[5], KEYS[1], entry.body, entry.sha) end
end
local status = redis.call('HGET', KEYS[1], 'st')
if not status then return {'missing', '', {}} end
local id = a.id
if status ~= 'pending' then
  log(a.refused_entry)
  return {'conflict', status, redis.call('HGETALL', KEYS[1])}
end
if a.not_before_ms ~= '' and tonumber(redis.call('HGET', KEYS[1], 'ems')) > tonumber(a.not_before_ms) then
  return {'early', status, redis.call('HGETALL', KEYS[1])}
end
local decision, final_entry = a.decision, a.final_entry
if a.mode == 'vote' then
  local duplicate = redis.call('HEXISTS', KEYS[1], 'v:' .. a.voter) == 1
  for _, identity in ipairs(a.identities) do
    if redis.call('HEXISTS', KEYS[1], 'p:' .. identity) == 1 then duplicate = true end
  end
  if duplicate then
    log(a.refused_entry)
    return {'duplicate', status, redis.call('HGETALL', KEYS[1])}
  end
  local agreed = redis.call('HGET', KEYS[1], 'agreed')
  local current = agreed or a.original
  if a.kind == 'approve' and a.args ~= current then
    log(a.changed_entry)
    return {'changed', status, redis.call('HGETALL', KEYS[1])}
  end
  local vote_entry = a.vote_entry
  if a.kind == 'modify' then
    if a.args ~= current then
      for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
        local kind = string.sub(key, 1, 2)
        if kind == 'v:' then vote_entry = a.reset_entry end
        if kind == 'v:' or kind == 'p:' then redis.call('HDEL', KEYS[1], key) end
      end
    end
    redis.call('HSET', KEYS[1], 'agreed', a.args)
  end
  redis.call('HSET', KEYS[1], 'v:' .. a.voter, a.vote, 'upd', a.now_ms)
  for _, identity in ipairs(a.identities) do redis.call('HSET', KEYS[1], 'p:' .. identity, '1') end
  log(vote_entry)
  local votes = 0
  for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(key, 1, 2) == 'v:' then votes = votes + 1 end
  end
  if a.kind ~= 'reject' and votes < tonumber(a.quorum) then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', a.maxlen_outbox, '*', 'type', 'voted', 'id', id, 'status', status)
    redis.call('PUBLISH', a.channel, id .. ' ' .. status)
    return {'voted', status, redis.call('HGETALL', KEYS[1])}
  end
  if a.kind == 'approve' and agreed then
    decision, final_entry = a.modified.decision, a.modified.entry
  end
end
local new_status = a.new_status
redis.call('HSET', KEYS[1], 'st', new_status, 'dec', decision, 'upd', a.now_ms)
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HINCRBY', KEYS[7], redis.call('HGET', KEYS[1], 'lvl'), -1)
redis.call('ZADD', KEYS[8], a.now_ms, id)
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. (tonumber(a.now_ms) - tonumber(a.retention_s) * 1000))
redis.call('EXPIRE', KEYS[1], tonumber(a.retention_s))
log(final_entry)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', a.maxlen_outbox, '*', 'type', 'decided', 'id', id, 'status', new_status)
redis.call('PUBLISH', a.channel, id .. ' ' .. new_status)
return {'final', new_status, redis.call('HGETALL', KEYS[1])}
