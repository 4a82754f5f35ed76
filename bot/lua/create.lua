-- Creates an approval atomically with its audit entries, or returns the one an idempotency key names.
-- KEYS: approval, pending, expiry, all, agent_index, idempotency, audit, audit_tail, outbox, pending_by_level,
--       agent_pending, decided (by decision ms)
-- ARGV[1]: one JSON object: id, request (JSON text), status, decision (JSON text or ''), created_ms,
--   expires_ms (ms as text: cjson keeps 14 digits), level, retention_s, created_entry ({body, sha}),
--   decided_entry ({body, sha} or ''), channel, maxlen_outbox, max_pending (0 = no cap), approval_prefix
-- ARGV[2]: the audit chain key (see audit.lua: always the last ARGV)
-- Returns {1, id} created; {0, id} the idempotency key's existing request; {-1, cap} over the pending cap.
local a = cjson.decode(ARGV[1])
if KEYS[6] ~= '' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return {0, existing} end
end
local id, status, retention = a.id, a.status, tonumber(a.retention_s)
local created_ms, expires_ms = a.created_ms, a.expires_ms
-- The agent's pending cap, exact under concurrency because it is checked here. agent_pending holds the
-- ids the agent filed while pending; ids decided since are pruned only when the cap is reached.
local cap = tonumber(a.max_pending)
if status == 'pending' and cap > 0 then
  if redis.call('ZCARD', KEYS[11]) >= cap then
    for _, member in ipairs(redis.call('ZRANGE', KEYS[11], 0, -1)) do
      if redis.call('HGET', a.approval_prefix .. member, 'st') ~= 'pending' then
        redis.call('ZREM', KEYS[11], member)
      end
    end
    if redis.call('ZCARD', KEYS[11]) >= cap then return {-1, tostring(cap)} end
  end
  redis.call('ZADD', KEYS[11], created_ms, id)
end
redis.call('HSET', KEYS[1], 'req', a.request, 'st', status, 'cms', created_ms, 'ems', expires_ms, 'lvl', a.level)
if a.decision ~= '' then redis.call('HSET', KEYS[1], 'dec', a.decision) end
redis.call('ZADD', KEYS[4], created_ms, id)
redis.call('ZADD', KEYS[5], created_ms, id)
-- Index entries older than the retention period point at expired records: drop them as we go.
local horizon = '(' .. (tonumber(created_ms) - retention * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', horizon)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', horizon)
if status == 'pending' then
  redis.call('ZADD', KEYS[2], created_ms, id)
  redis.call('ZADD', KEYS[3], expires_ms, id)
  redis.call('HINCRBY', KEYS[10], a.level, 1)
else
  redis.call('EXPIRE', KEYS[1], retention)
  redis.call('ZADD', KEYS[12], created_ms, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[12], '-inf', horizon)
end
if KEYS[6] ~= '' then redis.call('SET', KEYS[6], id, 'EX', retention) end
audit_append(KEYS[7], KEYS[8], KEYS[1], a.created_entry.body, a.created_entry.sha)
if type(a.decided_entry) == 'table' then
  audit_append(KEYS[7], KEYS[8], KEYS[1], a.decided_entry.body, a.decided_entry.sha)
end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', a.maxlen_outbox, '*', 'type', 'created', 'id', id, 'status', status)
redis.call('PUBLISH', a.channel, id .. ' ' .. status)
return {1, id}
