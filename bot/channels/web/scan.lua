-- Filtered scan of a sorted approval index (score: created ms), newest first, for the dashboard.
-- KEYS[1]: the index
-- ARGV: approval key prefix, max score, min score, after score ('' = from the top), after member,
--       status ('' any, 'decided' = any but pending, or one status), level, agent needle, agent,
--       action needle, action, limit, max_scan
-- A needle is the JSON text `"agent":"<value>"` as the canonical document holds it: a cheap substring
-- test before the document is decoded to confirm the match.
-- Returns {matched, truncated (1 when max_scan stopped the walk), id, score, id, score, ...}
local prefix, max_score, min_score = ARGV[1], ARGV[2], ARGV[3]
local after_score, after_member = tonumber(ARGV[4]), ARGV[5]
local status, level = ARGV[6], ARGV[7]
local agent_needle, agent, action_needle, action = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local limit, max_scan = tonumber(ARGV[12]), tonumber(ARGV[13])
local needs_fields = status ~= '' or level ~= '' or agent ~= '' or action ~= ''
local matched, scanned, truncated, offset, chunk = 0, 0, 0, 0, 1000
local page = {}
while true do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], max_score, min_score, 'WITHSCORES', 'LIMIT', offset, chunk)
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    if scanned >= max_scan then truncated = 1; break end
    scanned = scanned + 1
    local id, score = rows[i], tonumber(rows[i + 1])
    local ok = true
    if needs_fields then
      local f = redis.call('HMGET', prefix .. id, 'st', 'lvl', 'req')
      if not f[1] then
        ok = false
      else
        if status == 'decided' then ok = f[1] ~= 'pending' elseif status ~= '' then ok = f[1] == status end
        if ok and level ~= '' then ok = f[2] == level end
        if ok and agent ~= '' then ok = string.find(f[3], agent_needle, 1, true) ~= nil end
        if ok and action ~= '' then ok = string.find(f[3], action_needle, 1, true) ~= nil end
        if ok and (agent ~= '' or action ~= '') then
          -- pcall: one unreadable record is skipped, not an error for the whole page
          local decoded, doc = pcall(cjson.decode, f[3])
          if not decoded or type(doc) ~= 'table' then ok = false
          else
            if agent ~= '' and doc.agent ~= agent then ok = false end
            if action ~= '' and doc.action ~= action then ok = false end
          end
        end
      end
    end
    if ok then
      matched = matched + 1
      if #page < limit * 2 and (after_score == nil or score < after_score
          or (score == after_score and id < after_member)) then
        page[#page + 1] = id
        page[#page + 1] = rows[i + 1]
      end
    end
  end
  if truncated == 1 or #rows < chunk * 2 then break end
  offset = offset + chunk
end
return {matched, truncated, unpack(page)}
