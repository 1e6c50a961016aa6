-- Claims up to ARGV[2] items of a due queue whose time has come, by Redis's own clock, and leases each
-- for ARGV[1] ms: its time moves to now + lease, so an item whose claimer dies comes due again, and an
-- item is held by one claimer at a time. KEYS: the queue (sorted set: item -> due ms), its payloads (hash).
-- Returns {now ms, item, payload, item, payload, ...}.
local queue, payloads = KEYS[1], KEYS[2]
local lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {tostring(now)}
for _, item in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZADD', queue, now + lease, item)
  out[#out + 1] = item
  out[#out + 1] = redis.call('HGET', payloads, item) or ''
end
return out
