-- Lists a call on the supervisor board and publishes its new summary (the append script keeps the
-- summary itself, in the call's slot; the board's list and channel have a slot of their own).
-- KEYS: board sorted set, board channel (see cintel_relay/bus/keys.py).
-- ARGV: session, summary JSON, its updatedAt (ms), '1' if the call ended, publish command, ttl (s), '1' to list the
--       call anew (append.lua's out[7]: when it was last listed long enough ago) else '0'.

local zset, channel = KEYS[1], KEYS[2]
local session, summary, ms_text, ended, publish, ttl_text, relist = unpack(ARGV)
-- Numbers as given where a command takes them: a Lua number would be formatted back into text (%.17g).
local ms, ttl = tonumber(ms_text), tonumber(ttl_text)
if ended == '1' then
  redis.call('ZREM', zset, session)
elseif relist == '1' then
  redis.call('ZADD', zset, ms_text, session)
  -- A call not heard of for a whole session TTL has expired: it leaves the board (and the list itself
  -- goes when no call has been heard of for that long).
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', ms - ttl * 1000)
  redis.call('EXPIRE', zset, ttl_text)
end
redis.call(publish, channel, 'data: {"type":"' .. board_call_type .. '","data":' .. summary .. '}\n\n')
return 1
