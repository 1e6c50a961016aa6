-- A webhook's events about a conversation ingested in ONE script call, for when every key lives on one node (a standalone
-- Redis, the embedded fake). On a cluster the bus runs the same algorithm with one script call per slot
-- (cintel_relay/bus/event_bus.py EventBus._ingest_per_slot); both are written as the same five steps,
-- under the same names, in the same order:
--   1. route       route.lua in the conversation's slot: where each event goes, held events now routable first
--   2. by_session  the routed events grouped per session, in log order
--   3. append      append.lua in each session's slot
--   4. board       board.lua for each board summary the appends changed
--   5. unhold      the appended held events taken off the pending list (a route call of 'unhold' records,
--                  which may route more held events: back to step 1)
-- Here that is one round trip instead of three. route.lua, append.lua and board.lua are unchanged: they
-- are prepended as the functions route, append and board (see event_bus.py), so this file only chains them.
--
-- KEYS: the conversation's state, comms, routes, pending, then the board's set and channel.
-- ARGV: the session that gets board fields ('' for none), those fields (JSON or ''), the conversation, then its
--       route records. What is the same on every call is the bus's, prepended by the loader as Lua constants
--       (EventBus._ingest_script): the session key prefix and suffixes (keys.SESSION_KEY_TEMPLATE), the log's
--       maxlen, the publish command, the TTLs and the pending limit: sent on every call they were a third of its
--       arguments, each formatted by the relay and turned into a Lua string by Redis.
-- Returns {route.lua's statuses, then flat (dedupe, append outcome, session) triples in log order, then
--          flat (session, start ms) pairs of the calls whose deadlines are not scheduled yet}.

local prefix, suffixes, maxlen, publish = session_key_prefix, session_key_suffixes, log_maxlen, publish_command
local ttl, ended_ttl = session_ttl, completed_ttl
local board_session, board_fields, conv = ARGV[1], ARGV[2], ARGV[3]
-- route.lua's ARGV: the conversation, the TTLs and the pending limit, then the records.
local route_argv = {conv, ttl, ended_ttl, max_pending}
for i = 4, #ARGV do route_argv[#route_argv + 1] = ARGV[i] end
local conv_keys = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local board_keys = {KEYS[5], KEYS[6]}

local function keys_of(session)
  local out = {}
  for i, suffix in ipairs(suffixes) do out[i] = prefix .. session .. suffix end
  return out
end

local statuses, outcomes, started = nil, {}, {}
local fields = {}
if board_session ~= '' then fields[board_session] = board_fields end

-- 2. by_session: each session's events in log order; the session with board fields is appended even without any.
local function by_session(appends)
  local order, per_session = {}, {}
  if fields[board_session] then
    order[1], per_session[board_session] = board_session, {}
  end
  for i = 1, #appends, 5 do
    local session = appends[i]
    local entries = per_session[session]
    if not entries then
      entries = {}
      per_session[session], order[#order + 1] = entries, session
    end
    for j = 1, 4 do entries[#entries + 1] = appends[i + j] end
  end
  return order, per_session
end

-- 5. unhold: route.lua's ARGV that takes the flushed entries off the pending list.
local function unhold(flushed)
  local argv = {route_argv[1], route_argv[2], route_argv[3], route_argv[4]}
  for _, entry in ipairs(flushed) do
    for _, v in ipairs(route_record({frame = entry, kind = 'unhold'})) do argv[#argv + 1] = v end
  end
  return argv
end

local argv = route_argv
while true do
  -- 1. route
  local reply = route(conv_keys, argv)
  if reply.err then return reply end
  statuses = statuses or reply[1]
  local appends, flushed = reply[2], reply[3]
  -- 2. by_session
  local order, per_session = by_session(appends)
  -- 3. append
  local changed = {}
  for _, session in ipairs(order) do
    local entries = per_session[session]
    local args = {session, ttl, ended_ttl, maxlen, publish, conv, fields[session] or ''}
    for _, v in ipairs(entries) do args[#args + 1] = v end
    local out = append(keys_of(session), args)
    for k = 8, #out do
      outcomes[#outcomes + 1] = entries[(k - 8) * 4 + 1]
      outcomes[#outcomes + 1] = out[k]
      outcomes[#outcomes + 1] = session
    end
    if out[4] ~= '' then
      started[#started + 1] = session
      started[#started + 1] = out[4]
    end
    if out[1] ~= '' then changed[#changed + 1] = {session, out[1], out[5], out[6], out[7]} end
  end
  -- 4. board
  for _, c in ipairs(changed) do board(board_keys, {c[1], c[2], c[3], c[4], publish, ttl, c[5]}) end
  -- 5. unhold
  if #flushed == 0 then break end
  argv, fields = unhold(flushed), {}
end
return {statuses, outcomes, started}
