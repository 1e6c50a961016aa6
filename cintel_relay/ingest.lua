-- Appends events to a session's log and publishes them, atomically, so the order of the log is the
-- order every subscriber sees. Unmapped events are held per conversation and flushed, in order, in the
-- same script that records the mapping, so two replicas racing cannot reorder or lose them.
-- ARGV: session, conversation, ttl, ended_ttl, maxlen, board fields (JSON or ''), then
-- (dedupe, type, ends, frame) per event.

local session, conv = ARGV[1], ARGV[2]
local ttl, ended_ttl, maxlen = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local snapshot_types = {['adherence']=1, ['sentiment']=1, ['summary']=1, ['call-status']=1}
local conv_prefix = 'cintel:conv:{' .. conv .. '}:'

local function merge_adherence(sid, frame)
  local met_key = 'cintel:{' .. sid .. '}:met'
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
  if total > 0 then event.data.score = math.floor(1000 * met / total + 0.5) / 10 else event.data.score = 0 end
  return cjson.encode(event)
end

-- Once a call has ended, everything of its session and conversation keeps only ended_ttl.
local function keep_for(sid)
  if sid ~= '' and redis.call('HEXISTS', 'cintel:{' .. sid .. '}:latest', 'ended') == 1 then return ended_ttl end
  return ttl
end

local function expire_conversation(c, keep)
  for _, suffix in ipairs({'session', 'pending', 'participants', 'seen'}) do
    redis.call('EXPIRE', 'cintel:conv:{' .. c .. '}:' .. suffix, keep)
  end
end

-- >>> supervisor board: each change to a call the board shows updates its summary and publishes it on
-- cintel:board (raw operator results change nothing there). Live calls are listed in the sorted set
-- cintel:board (by last update); an ended call leaves it.
local board_types = {['transcript']=1, ['adherence']=1, ['sentiment']=1, ['call-status']=1}

local function board_fields(etype, data)
  if etype == 'transcript' then
    return {lastUtterance = {speaker = data.speaker, text = data.text}}
  elseif etype == 'adherence' then
    local checklist = {}
    for i, c in ipairs(data.categories) do checklist[i] = {key = c.key, label = c.label, status = c.status} end
    return {score = data.score, checklist = checklist}
  elseif etype == 'sentiment' then
    return {sentiment = data.label}
  elseif etype == 'call-status' then
    return {callStatus = data.status}
  end
end

local function update_board(sid, fields)
  local key = 'cintel:{' .. sid .. '}:board'
  local ended = redis.call('HEXISTS', 'cintel:{' .. sid .. '}:latest', 'ended') == 1
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local raw = redis.call('GET', key)
  local s = raw and cjson.decode(raw) or {session = sid, startedAt = ms, version = 0, utterances = 0}
  for k, v in pairs(fields) do s[k] = v end
  if fields.lastUtterance then s.utterances = s.utterances + 1 end
  if ended and not s.endedAt then s.endedAt = ms end
  s.version, s.updatedAt, s.ended = s.version + 1, ms, ended
  local encoded = cjson.encode(s)
  redis.call('SET', key, encoded, 'EX', ended and ended_ttl or ttl)
  if ended then
    redis.call('ZREM', 'cintel:board', sid)
  else
    redis.call('ZADD', 'cintel:board', ms, sid)
  end
  redis.call('ZREMRANGEBYSCORE', 'cintel:board', '-inf', ms - ttl * 1000)
  redis.call('PUBLISH', 'cintel:board', 'data: {"type":"call","data":' .. encoded .. '}\n\n')
end
-- <<< supervisor board

local function append(sid, etype, ends, frame)
  local prefix = 'cintel:{' .. sid .. '}:'
  if etype == 'adherence' then frame = merge_adherence(sid, frame) end
  local id = redis.call('XADD', prefix .. 'log', 'MAXLEN', '~', maxlen, '*', 't', etype, 'f', frame)
  if snapshot_types[etype] then redis.call('HSET', prefix .. 'latest', etype, frame) end
  if ends == '1' then
    redis.call('HSET', prefix .. 'latest', 'ended', '1')
    local mapped = redis.call('HGET', prefix .. 'latest', 'conversation')
    if mapped then expire_conversation(mapped, ended_ttl) end
  end
  local keep = keep_for(sid)
  for _, suffix in ipairs({'log', 'latest', 'met', 'seen'}) do redis.call('EXPIRE', prefix .. suffix, keep) end
  redis.call('PUBLISH', prefix .. 'events', 'id: ' .. id .. '\ndata: ' .. frame .. '\n\n')
  if board_types[etype] or ends == '1' then
    update_board(sid, board_types[etype] and board_fields(etype, cjson.decode(frame).data) or {})
  end
  return id
end

if conv ~= '' then
  local map_key = conv_prefix .. 'session'
  if session == '' then
    session = redis.call('GET', map_key) or ''
  elseif redis.call('SET', map_key, session, 'NX') then
    redis.call('HSET', 'cintel:{' .. session .. '}:latest', 'conversation', conv)
    local held = redis.call('LRANGE', conv_prefix .. 'pending', 0, -1)
    for i = 1, #held, 3 do append(session, held[i], held[i + 1], held[i + 2]) end
    redis.call('DEL', conv_prefix .. 'pending')
  end
end
if ARGV[6] ~= '' and session ~= '' then update_board(session, cjson.decode(ARGV[6])) end

-- Deliveries are deduplicated per conversation (webhooks of Twilio's conversation services) or per
-- session (Voice status callbacks), so the markers expire with the call.
local seen = conv ~= '' and (conv_prefix .. 'seen') or ('cintel:{' .. session .. '}:seen')
local out = {}
for i = 7, #ARGV, 4 do
  local dedupe, etype, ends, frame = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if dedupe ~= '' and redis.call('SADD', seen, dedupe) == 0 then
    out[#out + 1] = 'duplicate'
  elseif session == '' then
    redis.call('RPUSH', conv_prefix .. 'pending', etype, ends, frame)
    out[#out + 1] = 'held'
  else
    out[#out + 1] = append(session, etype, ends, frame)
  end
end
if conv ~= '' then expire_conversation(conv, keep_for(session)) end
return out
