-- The one paging engine: a filtered walk of a sorted approval index (score: created ms), newest first.
-- KEYS[1]: the index
-- ARGV[1]: one JSON object: prefix (approval key prefix), max_score, min_score ('+inf' / '-inf' or ms),
--   after_score ('' = from the top), after_member, status ('' any, 'decided' = any but pending, or one status),
--   level, agent, agent_needle, action, action_needle, text_needle, limit, max_scan,
--   count (1: count every match up to max_scan; 0: stop once the page is full)
-- A needle is JSON text as the canonical document holds it (`"agent":"<value>"`, or a word of free text as
-- it appears escaped): a cheap substring test; agent and action are then confirmed on the decoded document.
-- Returns {matched, truncated (1 when max_scan stopped the walk), id, score, id, score, ...}
local a = cjson.decode(ARGV[1])
local prefix, max_score, min_score = a.prefix, a.max_score, a.min_score
local after_score, after_member = tonumber(a.after_score), a.after_member
local status, level, agent, action, text = a.status, a.level, a.agent, a.action, a.text_needle
local limit, max_scan, count = tonumber(a.limit), tonumber(a.max_scan), tonumber(a.count) == 1
local needs_fields = status ~= '' or level ~= '' or agent ~= '' or action ~= '' or text ~= ''
local matched, scanned, truncated, offset, chunk = 0, 0, 0, 0, 1000
if not count and not needs_fields then chunk = limit + 1 end
local page = {}
local function after_cursor(id, score)
  return after_score == nil or score < after_score or (score == after_score and id < after_member)
end
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
        if ok and agent ~= '' then ok = string.find(f[3], a.agent_needle, 1, true) ~= nil end
        if ok and action ~= '' then ok = string.find(f[3], a.action_needle, 1, true) ~= nil end
        if ok and text ~= '' then ok = string.find(f[3], text, 1, true) ~= nil end
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
      if #page < limit * 2 and after_cursor(id, score) then
        page[#page + 1] = id
        page[#page + 1] = rows[i + 1]
      end
    end
    if not count and #page >= limit * 2 then break end
  end
  if truncated == 1 or #rows < chunk * 2 or (not count and #page >= limit * 2) then break end
  offset = offset + chunk
end
return {matched, truncated, unpack(page)}
