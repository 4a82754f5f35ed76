-- Creates an approval atomically with its audit entries, or returns the one an idempotency key names.
-- KEYS: approval, pending, expiry, all, agent_index, idempotency, audit, audit_tail, outbox, pending_by_level,
--       agent_pending, decided (by decision ms)
-- ARGV: id, request_json, status, decision_json, created_ms, expires_ms, level, retention_s,
--       created_body, created_sha, decided_body, decided_sha, channel, maxlen_outbox,
--       max_pending (0 = no cap), approval key prefix
-- Returns {1, id} created; {0, id} the idempotency key's existing request; {-1, cap} over the pending cap.
if KEYS[6] ~= '' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return {0, existing} end
end
local id, status, retention = ARGV[1], ARGV[3], tonumber(ARGV[8])
-- The agent's pending cap, exact under concurrency because it is checked here. agent_pending holds the
-- ids the agent filed while pending; ids decided since are pruned only when the cap is reached.
local cap = tonumber(ARGV[15])
if status == 'pending' and cap > 0 then
  if redis.call('ZCARD', KEYS[11]) >= cap then
    for _, member in ipairs(redis.call('ZRANGE', KEYS[11], 0, -1)) do
      if redis.call('HGET', ARGV[16] .. member, 'st') ~= 'pending' then redis.call('ZREM', KEYS[11], member) end
    end
    if redis.call('ZCARD', KEYS[11]) >= cap then return {-1, tostring(cap)} end
  end
  redis.call('ZADD', KEYS[11], ARGV[5], id)
end
redis.call('HSET', KEYS[1], 'req', ARGV[2], 'st', status, 'cms', ARGV[5], 'ems', ARGV[6], 'lvl', ARGV[7])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'dec', ARGV[4]) end
redis.call('ZADD', KEYS[4], ARGV[5], id)
redis.call('ZADD', KEYS[5], ARGV[5], id)
-- Index entries older than the retention period point at expired records: drop them as we go.
local horizon = '(' .. (tonumber(ARGV[5]) - retention * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', horizon)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', horizon)
if status == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[5], id)
  redis.call('ZADD', KEYS[3], ARGV[6], id)
  redis.call('HINCRBY', KEYS[10], ARGV[7], 1)
else
  redis.call('EXPIRE', KEYS[1], retention)
  redis.call('ZADD', KEYS[12], ARGV[5], id)
  redis.call('ZREMRANGEBYSCORE', KEYS[12], '-inf', horizon)
end
if KEYS[6] ~= '' then redis.call('SET', KEYS[6], id, 'EX', retention) end
audit_append(KEYS[7], KEYS[8], KEYS[1], ARGV[9], ARGV[10])
if ARGV[11] ~= '' then audit_append(KEYS[7], KEYS[8], KEYS[1], ARGV[11], ARGV[12]) end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[14], '*', 'type', 'created', 'id', id, 'status', status)
redis.call('PUBLISH', ARGV[13], id .. ' ' .. status)
return {1, id}
