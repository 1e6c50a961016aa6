-- Decides which session(s) each event of a conversation belongs to, atomically in the conversation's
-- hash slot; appending to those sessions' logs is the append script's job (another slot on a cluster).
-- A conversation is not a call: with GROUP_BY_PROFILE it holds a customer's calls and SMS threads.
--
-- KEYS: state, comms, routes, pending (see cintel_relay/bus/keys.py).
-- ARGV: conversation, ttl, ended_ttl, max_pending, then one route record per item, its fields at the
-- route_field offsets the loader prepends (cintel_relay/bus/routing.py RouteRecord, the one home of their order):
--   dedupe, type, ends, frame (all '' for an item that only registers a call), then
--   kind: 'voice' (a call's utterance), 'text' (a digital message), 'result' (an operator result, or
--         anything else that follows the conversation's current session), 'post' (a result computed
--         when the conversation ended: it follows the current session even once that call has ended),
--         'conv' (about the whole conversation); and without an event: 'call' (registers a call),
--         'ended' (a call ended, told by its status callback), 'unhold' (frame: a pending entry now
--         in its logs, to remove)
--   comm (the communication id, for voice/text), call (a Call SID: the utterance's call, or a
--   Call SID a result names), refs (communication ids a result was computed from, last first,
--   joined by spaces).
-- Returns {statuses, appends, flushed}: per item 'routed', 'held', 'duplicate' or 'none';
-- appends as flat (session, dedupe, type, ends, frame) in log order, held events that are now
-- routable first; flushed: the pending entries those came from, which the caller removes ('unhold')
-- once they are in their logs. Until then every route call routes them again first (the append
-- script drops what a log has already), so a replica that dies mid-way loses nothing and no event
-- of a session is logged before the events held for it.

local state, comms, routes, pending = unpack(KEYS)
local conv, max_pending = ARGV[1], tonumber(ARGV[4])
local ttl, ended_ttl = ARGV[2], ARGV[3]  -- as given, for EXPIRE (a Lua number would be formatted back into text)
local FIRST, WIDTH = 5, route_width
local DEDUPE, ETYPE, ENDS, FRAME = route_field.dedupe, route_field.type, route_field.ends, route_field.frame
local KIND, COMM, CALL, REFS = route_field.kind, route_field.comm, route_field.call, route_field.refs

local function is_live(sid)
  return sid ~= nil and redis.call('HGET', state, 'call:' .. sid) == 'live'
end

-- A call of the conversation known live now, so the state need not be read back to choose its TTL; false again
-- once this script ends any call.
local live_known = false

local function register_call(sid)
  local known = redis.call('HGET', state, 'call:' .. sid)
  if not known then
    -- the newest call is the conversation's current session
    redis.call('HSET', state, 'call:' .. sid, 'live', 'current', sid)
    known = 'live'
  end
  if known == 'live' then live_known = true end
end

local function live_call()
  local current = redis.call('HGET', state, 'current')
  if current and current ~= conv and is_live(current) then return current end
  return nil
end

local function split(s)
  local out = {}
  for part in string.gmatch(s, '%S+') do out[#out + 1] = part end
  return out
end

-- What an event's kind and hints say about where it goes (nil: not known yet, hold it).
local function resolve(kind, call, refs)
  if kind == 'voice' then return {call} end
  if kind == 'text' then
    local live = live_call()
    return live and {conv, live} or {conv}
  end
  if kind == 'conv' then
    local targets = {}
    local fields = redis.call('HGETALL', state)
    for i = 1, #fields, 2 do
      if fields[i + 1] == 'live' then targets[#targets + 1] = string.sub(fields[i], 6) end
    end
    if redis.call('HEXISTS', state, 'text') == 1 then targets[#targets + 1] = conv end
    return #targets > 0 and targets or nil
  end
  for _, ref in ipairs(split(refs)) do
    local sid = redis.call('HGET', comms, ref)
    if sid then return {sid} end
  end
  if call ~= '' then return {call} end
  local current = redis.call('HGET', state, 'current')
  if current and (current == conv or is_live(current)) then return {current} end
  -- A post-call result is about the call that just ended (its data lives as long as this state does);
  -- a running result naming no communication waits for the next live session instead.
  if current and kind == 'post' and redis.call('HEXISTS', state, 'call:' .. current) == 1 then return {current} end
  return nil
end

-- What an event's arrival tells about the conversation, before anything is routed.
local function learn(kind, comm, call, frame)
  if kind == 'unhold' then
    redis.call('LREM', pending, 1, frame)
  elseif kind == 'ended' then
    if redis.call('HEXISTS', state, 'call:' .. call) == 1 then redis.call('HSET', state, 'call:' .. call, 'ended') end
    live_known = false
  elseif kind == 'voice' or kind == 'call' then
    register_call(call)
    if comm ~= '' then redis.call('HSETNX', comms, comm, call) end
  elseif kind == 'text' then
    redis.call('HSET', state, 'text', '1')
    local live = live_call()
    if not live then redis.call('HSET', state, 'current', conv) end
    redis.call('HSETNX', comms, comm, live or conv)
  end
end

local appends, flushed = {}, {}
local function route_to(targets, dedupe, etype, ends, frame)
  redis.call('HSET', routes, dedupe, table.concat(targets, ' '))
  for _, sid in ipairs(targets) do
    appends[#appends + 1] = sid
    appends[#appends + 1] = dedupe
    appends[#appends + 1] = etype
    appends[#appends + 1] = ends
    appends[#appends + 1] = frame
    if ends == '1' and sid ~= conv then
      redis.call('HSET', state, 'call:' .. sid, 'ended')
      live_known = false
    end
  end
end

-- A call the pending list cannot take is refused before anything is written, so a retry finds what
-- the first attempt found. Only results and conversation events are ever held; a call that also
-- teaches (a call, a communication) is checked as it goes, below, since what it teaches may route them.
local teaches, holdable = false, 0
for i = FIRST, #ARGV, WIDTH do
  local kind = ARGV[i + KIND]
  if kind ~= 'result' and kind ~= 'conv' then
    teaches = true
  elseif ARGV[i + DEDUPE] ~= '' and not redis.call('HGET', routes, ARGV[i + DEDUPE])
      and not resolve(kind, ARGV[i + CALL], ARGV[i + REFS]) then
    holdable = holdable + 1
  end
end
if not teaches and holdable > 0 and redis.call('LLEN', pending) + holdable > max_pending then
  return redis.error_reply('PENDINGFULL conversation has too many held events')
end

for i = FIRST, #ARGV, WIDTH do learn(ARGV[i + KIND], ARGV[i + COMM], ARGV[i + CALL], ARGV[i + FRAME]) end

-- Held events first, in the order they arrived, wherever they can now go.
local held = redis.call('LRANGE', pending, 0, -1)
for _, entry in ipairs(held) do
  local e = cjson.decode(entry)  -- a route record, as the item that was held
  local sticky = redis.call('HGET', routes, e[1 + DEDUPE])
  local targets = (sticky and sticky ~= '') and split(sticky) or resolve(e[1 + KIND], e[1 + CALL], e[1 + REFS])
  if targets then
    route_to(targets, e[1 + DEDUPE], e[1 + ETYPE], e[1 + ENDS], e[1 + FRAME])
    flushed[#flushed + 1] = entry
  end
end

local statuses = {}
for i = FIRST, #ARGV, WIDTH do
  local dedupe, etype, ends, frame = ARGV[i + DEDUPE], ARGV[i + ETYPE], ARGV[i + ENDS], ARGV[i + FRAME]
  local kind, call, refs = ARGV[i + KIND], ARGV[i + CALL], ARGV[i + REFS]
  local sticky = dedupe ~= '' and redis.call('HGET', routes, dedupe)
  if dedupe == '' then
    statuses[#statuses + 1] = 'none'
  elseif sticky == '' then
    statuses[#statuses + 1] = 'duplicate'  -- held already
  else
    -- A retried event goes where it went the first time; the append script then drops it.
    local targets = sticky and split(sticky) or resolve(kind, call, refs)
    if targets then
      route_to(targets, dedupe, etype, ends, frame)
      statuses[#statuses + 1] = 'routed'
    elseif redis.call('LLEN', pending) >= max_pending then
      return redis.error_reply('PENDINGFULL conversation has too many held events')
    else
      redis.call('RPUSH', pending, cjson.encode({unpack(ARGV, i, i + WIDTH - 1)}))
      held[#held + 1] = true
      redis.call('HSET', routes, dedupe, '')
      statuses[#statuses + 1] = 'held'
    end
  end
end

-- A conversation whose calls have all ended keeps its state only as long as an ended call's data.
local keep = ttl
if not live_known then
  local has_call, has_live = false, false
  local fields = redis.call('HGETALL', state)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 5) == 'call:' then
      has_call = true
      if fields[i + 1] == 'live' then has_live = true end
    end
  end
  if has_call and not has_live then keep = ended_ttl end
end
-- The pending list is refreshed only when it holds something (EXPIRE on no key does nothing).
for _, key in ipairs({state, comms, routes}) do redis.call('EXPIRE', key, keep) end
if #held > 0 then redis.call('EXPIRE', pending, keep) end
return {statuses, appends, flushed}
