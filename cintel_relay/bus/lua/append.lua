-- Appends events to ONE session's log and publishes them, atomically, so the order of the log is the
-- order every subscriber sees. Every key is the session's (one hash slot), declared in KEYS.
-- KEYS: log, latest, met, seen, board summary, ended tombstone, channel (see cintel_relay/bus/keys.py).
-- ARGV: session, ttl, ended_ttl, maxlen, publish command (PUBLISH or SPUBLISH), conversation ('' if
--       none), board fields (JSON or ''), then (dedupe, type, ends, frame) per event.
-- Returns {board summary JSON or '', '1' when this call ended the session else '', the session's
--          conversation or '', then per event: its log id, 'duplicate' or 'stale'}.

local log, latest, met_key, seen, board, tombstone, channel = unpack(KEYS)
local session, ttl, ended_ttl, maxlen, publish = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local conv, board_arg = ARGV[6], ARGV[7]
local FIRST = 8
-- snapshot_types (frame type -> the data field keying its latest values, or ''), board_types and final_types
-- come from cintel_relay/events.py, prepended by the script loader.

-- The adherence score's one home: categories once met stay met, and the weighted share of met
-- categories, 0-100 with one decimal, is computed here, where the merged state is known.
local function merge_adherence(frame)
  local event = cjson.decode(frame)
  local total, met = 0, 0
  for _, c in ipairs(event.data.categories) do
    if c.status == 'met' then
      redis.call('SADD', met_key, c.key)
    elseif redis.call('SISMEMBER', met_key, c.key) == 1 then
      c.status = 'met'
    end
    total = total + c.weight
    if c.status == 'met' then met = met + c.weight end
  end
  event.data.score = total > 0 and math.floor(1000 * met / total + 0.5) / 10 or 0
  return cjson.encode(event)
end

-- A final value (a post-call summary, ``data.final``) is not replaced in the snapshot by a running one
-- that arrives after it; both are logged.
local function keeps_final(field, etype, frame)
  if not final_types[etype] or cjson.decode(frame).data.final then return false end
  local stored = redis.call('HGET', latest, field)
  return stored and cjson.decode(stored).data.final == true
end

-- The board's fields for an event it shows (raw operator results change nothing there).
local function board_fields(etype, data)
  if etype == 'transcript' then
    return {lastUtterance = {speaker = data.speaker, text = data.text, channel = data.channel}}
  elseif etype == 'adherence' then
    local checklist = {}
    for i, c in ipairs(data.categories) do checklist[i] = {key = c.key, label = c.label, status = c.status} end
    return {score = data.score, checklist = checklist}
  elseif etype == 'sentiment' then
    return {sentiment = data.label}
  elseif etype == 'call-status' then
    return {callStatus = data.status}
  end
  return {}
end

-- A call whose data expired after it ended takes nothing more: a replayed delivery cannot revive it.
if redis.call('EXISTS', tombstone) == 1 and redis.call('EXISTS', log) == 0 then
  local out = {'', '', ''}
  for i = FIRST, #ARGV, 4 do out[#out + 1] = 'stale' end
  return out
end

local ended_now, board_changes = false, {}
if board_arg ~= '' then board_changes[1] = cjson.decode(board_arg) end
if conv ~= '' then redis.call('HSET', latest, 'conversation', conv) end
local out = {'', '', ''}
for i = FIRST, #ARGV, 4 do
  local dedupe, etype, ends, frame = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('SADD', seen, dedupe) == 0 then
    out[#out + 1] = 'duplicate'
  else
    if etype == 'adherence' then frame = merge_adherence(frame) end
    local id = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 't', etype, 'f', frame)
    local keyed_by = snapshot_types[etype]
    if keyed_by == '' then
      if not keeps_final(etype, etype, frame) then redis.call('HSET', latest, etype, frame) end
    elseif keyed_by then
      redis.call('HSET', latest, etype .. ':' .. tostring(cjson.decode(frame).data[keyed_by]), frame)
    end
    if ends == '1' and redis.call('HSETNX', latest, 'ended', '1') == 1 then ended_now = true end
    redis.call(publish, channel, 'id: ' .. id .. '\ndata: ' .. frame .. '\n\n')
    if board_types[etype] then board_changes[#board_changes + 1] = board_fields(etype, cjson.decode(frame).data) end
    if ends == '1' then board_changes[#board_changes + 1] = {} end
    out[#out + 1] = id
  end
end

local ended = redis.call('HEXISTS', latest, 'ended') == 1
local keep = ended and ended_ttl or ttl
if ended_now then redis.call('SET', tombstone, '1', 'EX', math.max(ttl, ended_ttl)) end

if #board_changes > 0 then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local raw = redis.call('GET', board)
  local s = raw and cjson.decode(raw) or {session = session, startedAt = ms, version = 0, utterances = 0}
  for _, fields in ipairs(board_changes) do
    for k, v in pairs(fields) do s[k] = v end
    if fields.lastUtterance then s.utterances = s.utterances + 1 end
  end
  if ended and not s.endedAt then s.endedAt = ms end
  s.version, s.updatedAt, s.ended = s.version + 1, ms, ended
  out[1] = cjson.encode(s)
  redis.call('SET', board, out[1], 'EX', keep)
end

for _, key in ipairs({log, latest, met_key, seen, board}) do redis.call('EXPIRE', key, keep) end
out[2] = ended_now and '1' or ''
out[3] = redis.call('HGET', latest, 'conversation') or ''
return out
