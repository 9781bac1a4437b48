-- The attempt log's writes for one chunk of attempts (notifier/delivery/attempt_log.py builds the arguments).
-- Every write here is once per call, but for each failed attempt's own: a call into Redis from a script costs
-- more than most commands it runs, and this time is what the delivery path pays for the log.
local ttl, maxn, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, index, keep, day_s = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local fdh, fdt, fsh, fst, hlh, hlt = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local dyh, dyt, wdh, wdt = ARGV[14], ARGV[15], ARGV[16], ARGV[17]
local chunk_key, chunk_id, meta = ARGV[18], ARGV[19], cjson.decode(ARGV[20])

-- The chunk: one line per attempt, "event_id TAB record TAB document".
redis.call('SET', chunk_key, ARGV[21], 'EX', ttl)

local function contains(words, word)
  return string.find(' ' .. words .. ' ', ' ' .. word .. ' ', 1, true) ~= nil
end

local sinks, indexed, days, eids, seen = {}, {}, {}, {}, {}
for _, m in ipairs(meta) do
  local eid, sink, outcome, at, detected, item, err = m[1], m[2], m[3], m[4], m[5], m[6], m[7]
  if not seen[eid] then
    seen[eid] = true
    table.insert(eids, eid)
    table.insert(indexed, detected)
    table.insert(indexed, eid)
    if item ~= '' then
      local day = math.floor(detected / day_s)
      local d = days[day] or {}
      days[day] = d
      d[item] = d[item] or {}
      table.insert(d[item], eid .. ' ' .. string.format('%.3f', detected))
    end
  end
  local s = sinks[sink]
  if not s then
    s = {delivered = {}}
    sinks[sink] = s
  end
  if outcome == 'delivered' then
    table.insert(s.delivered, eid)
    if not s.success or at > s.success then s.success = at end
  else
    if outcome == 'failed' then redis.call('ZADD', fdh .. sink .. fdt, at, eid) end
    redis.call('ZADD', fsh .. sink .. fst, at, eid .. ':' .. string.format('%.3f', at))
    if not s.failure or at >= s.failure then s.failure, s.error = at, err end
  end
end

-- Where each event's attempts are: event id -> its chunks (this day's hash), the last `keep` of them.
local today = math.floor(now / day_s)
local wk = wdh .. today .. wdt
local old, values = redis.call('HMGET', wk, unpack(eids)), {}
for n, eid in ipairs(eids) do
  local refs = old[n] and (old[n] .. ' ' .. chunk_id) or chunk_id
  local _, count = string.gsub(refs, ' ', '')
  if count >= keep + 20 then
    local kept = {}
    for ref in string.gmatch(refs, '%S+') do table.insert(kept, ref) end
    refs = table.concat(kept, ' ', #kept - keep + 1)
  end
  table.insert(values, eid)
  table.insert(values, refs)
end
redis.call('HSET', wk, unpack(values))
redis.call('EXPIREAT', wk, (today + 1) * day_s + ttl)

-- The index of events by detection time, capped.
redis.call('ZADD', index, unpack(indexed))
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - ttl)
redis.call('ZREMRANGEBYRANK', index, 0, -maxn - 1)
redis.call('EXPIRE', index, ttl)

-- Timelines: item -> "event_id detected_at ..." in one hash per day of detection.
for day, items in pairs(days) do
  local until_at = (day + 1) * day_s + ttl
  if until_at > now then
    local dk, names, pairs_ = dyh .. day .. dyt, {}, {}
    for name in pairs(items) do table.insert(names, name) end
    local before = redis.call('HMGET', dk, unpack(names))
    for n, name in ipairs(names) do
      local words = before[n] or ''
      for _, entry in ipairs(items[name]) do
        local eid = string.match(entry, '^%S+')
        if not contains(words, eid) then words = (words == '' and entry) or (words .. ' ' .. entry) end
      end
      table.insert(pairs_, name)
      table.insert(pairs_, words)
    end
    redis.call('HSET', dk, unpack(pairs_))
    redis.call('EXPIREAT', dk, math.ceil(until_at))
  end
end

for sink, s in pairs(sinks) do
  local fd, fs, hk = fdh .. sink .. fdt, fsh .. sink .. fst, hlh .. sink .. hlt
  if #s.delivered > 0 then redis.call('ZREM', fd, unpack(s.delivered)) end
  if s.success then redis.call('HSET', hk, 'last_success_at', string.format('%.3f', s.success)) end
  if s.failure then
    redis.call('HSET', hk, 'last_failure_at', string.format('%.3f', s.failure), 'last_error', s.error)
  end
  redis.call('ZREMRANGEBYSCORE', fs, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', fd, '-inf', now - ttl)
  redis.call('EXPIRE', fd, ttl)
  redis.call('EXPIRE', fs, ttl)
  redis.call('EXPIRE', hk, ttl)
end
return 1
