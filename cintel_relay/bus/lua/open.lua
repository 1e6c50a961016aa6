-- What a stream opens with, in one call (a stream opening is one round trip, batched with its neighbours').
-- KEYS: the session's log, its latest hash. ARGV: the id the client saw last ('' for none), a page size.
-- Returns {1, entries after that id (at most a page)} when the log still holds the id, else the snapshot's
-- reads: {0, the whole log (bounded by CINTEL_LOG_MAXLEN), the latest hash as a flat list}.
if ARGV[1] ~= '' then
  local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]) + 1)
  if #entries > 0 and entries[1][1] == ARGV[1] then
    table.remove(entries, 1)
    return {1, entries}
  end
end
return {0, redis.call('XRANGE', KEYS[1], '-', '+'), redis.call('HGETALL', KEYS[2])}
