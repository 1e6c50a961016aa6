-- Appends events to ONE session's log and publishes them, atomically, so the order of the log is the
-- order every subscriber sees. Every key is the session's (one hash slot), declared in KEYS.
-- KEYS: log, latest, met, seen, board summary, ended tombstone, said, channel (see cintel_relay/bus/keys.py).
-- ARGV: session, ttl, ended_ttl, maxlen, publish command (PUBLISH or SPUBLISH), conversation ('' if
--       none), board fields (JSON or ''), then (dedupe, type, ends, frame) per event.
-- Returns {board summary JSON or '', '1' when this call ended the session else '', the session's
--          conversation or '', the call's start (ms) while its deadlines are not scheduled else '',
--          the summary's updatedAt (ms), '1' if it says the call ended, and '1' if the board's list must list the
--          call anew ('' each without a summary: what board.lua needs, so no caller decodes the summary again),
--          then per event: its log id, 'duplicate', 'stale' or, for a dispute, 'refused:<why>'}.

local log, latest, met_key, seen, board, tombstone, said, channel = unpack(KEYS)
local session, ttl, ended_ttl, maxlen, publish = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
-- The TTLs as given, for EXPIRE: a Lua number would be formatted back into text (with %.17g) on every call.
local ttl_text, ended_ttl_text = ARGV[2], ARGV[3]
local conv, board_arg = ARGV[6], ARGV[7]
local FIRST = 8
local BOARD_RELIST_MS = 10000  -- see out[7] below
-- A session's keys get their TTL again at most this often (and a tenth of the TTL, for a short one): see the end.
local REFRESH_MS = 60000
local null = cjson.null
-- snapshot_types (frame type -> the data field keying its latest values, or ''), board_types and final_types
-- come from cintel_relay/events.py, prepended by the script loader.

-- A key this call created (the said and met sets come mid-call): it gets its TTL now, whenever the others last did.
local created = false

local clock
local function now_ms()
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end

-- ISO 8601 (as Twilio writes it: 2026-01-02T03:04:05.678Z or with an offset) to Unix ms, or nil.
local function iso_ms(text)
  if type(text) ~= 'string' then return nil end
  local y, mo, d, h, mi, s, frac, zone = text:match('^(%d%d%d%d)-(%d%d)-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$')
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
  local ms = ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60 + tonumber(s)
  ms = ms * 1000 + (frac ~= '' and frac ~= '.' and math.floor(tonumber('0' .. frac) * 1000) or 0)
  if zone == '' or zone == 'Z' or zone == 'z' then return ms end
  local sign, zh, zm = zone:match('^([+-])(%d%d):?(%d%d)$')
  if not sign then return nil end
  local offset = (tonumber(zh) * 60 + tonumber(zm)) * 60000
  return sign == '+' and ms - offset or ms + offset
end

-- Unix ms to ISO 8601 UTC with milliseconds, as the relay writes times.
local function ms_iso(ms)
  local days = math.floor(ms / 86400000)
  local rest = ms - days * 86400000
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rest / 3600000),
    math.floor(rest / 60000) % 60, math.floor(rest / 1000) % 60, rest % 1000)
end

local function started_ms()
  return tonumber(redis.call('HGET', latest, 'started') or '') or now_ms()
end

-- The evidence of a verdict: the transcript entries from the result's first to its last judged
-- communication (by when they were said, then as they came), and when the last was said (the result's time when the
-- transcript does not have it yet).
local function evidence_of(window, fallback_time)
  local ids, at = {}, nil
  if type(window) == 'table' then
    local first = window.first ~= null and window.first or nil
    local last = window.last ~= null and window.last or nil
    -- By rank between the two: the lines said from the first to the last, in order.
    local ra = first and redis.call('ZRANK', said, first)
    local rb = last and redis.call('ZRANK', said, last)
    if ra and rb and ra <= rb then
      ids = redis.call('ZRANGE', said, ra, rb)
    else
      if first then ids[#ids + 1] = first end
      if last and last ~= first then ids[#ids + 1] = last end
    end
    local known = (rb and last) or (ra and first)
    at = known and math.floor(tonumber(redis.call('ZSCORE', said, known))) or nil
  end
  at = at or iso_ms(fallback_time)
  return (#ids > 0) and ids or null, at
end

-- The adherence state's one home. A verdict frame (from a Script Adherence result) is merged with the
-- call's state: a category once met stays met, with the evidence and time of its first met verdict; a
-- met step is on_time or late against its deadline (withinSeconds from the call's start), a step not
-- met is overdue once its deadline has passed, else open; an open dispute is resolved by a met verdict.
-- A deadline frame (data.deadline = key) announces that key overdue; a dispute frame (data.disputed)
-- attaches a dispute: both keep the state's verdicts. The score, 0-100 with one decimal, is the weighted
-- share of met categories, a late one counting lateCredit (0..1) of its weight.
-- Returns the frame to log, or nil when there is nothing to announce.
local function merge_adherence(frame)
  local event = cjson.decode(frame)
  local data = event.data
  local raw_prev = redis.call('HGET', latest, 'adherence')
  local prev_data = raw_prev and cjson.decode(raw_prev).data or nil
  local prev = {}
  if prev_data and type(prev_data.categories) == 'table' then
    for _, c in ipairs(prev_data.categories) do prev[c.key] = c end
  end
  local deadline, disputed, window = data.deadline, data.disputed, data.judged
  data.deadline, data.disputed, data.judged = nil, nil, nil
  -- A call that ended before a step's deadline was never late for it: nothing to announce.
  if deadline ~= nil and redis.call('HEXISTS', latest, 'ended') == 1 then return nil end
  local verdict = deadline == nil and disputed == nil
  if not verdict and prev_data and type(prev_data.categories) == 'table' then
    data.categories, data.explanation = prev_data.categories, prev_data.explanation
    data.operatorResultId = prev_data.operatorResultId
  end
  if data.timestamp == nil then data.timestamp = ms_iso(now_ms()) end
  if data.operatorResultId == nil then data.operatorResultId = null end
  if data.explanation == nil then data.explanation = null end
  if type(data.categories) ~= 'table' then data.categories = {} end
  local credit = tonumber(data.lateCredit) or 1
  local elapsed = (now_ms() - started_ms()) / 1000
  local ids, at
  if verdict and window then ids, at = evidence_of(window, data.timestamp) end
  local announced = verdict
  local total, met = 0, 0
  for _, c in ipairs(data.categories) do
    local p = prev[c.key] or {}
    local within = tonumber(c.withinSeconds)
    c.withinSeconds = within or null
    if c.dispute == nil then c.dispute = p.dispute or null end
    if disputed and disputed.category == c.key then c.dispute, announced = disputed, true end
    local sticky = redis.call('SISMEMBER', met_key, c.key) == 1
    if verdict and c.status == 'met' and not sticky then
      redis.call('SADD', met_key, c.key)
      created = true
      c.evidence, c.metAt, c.metAfterSeconds = ids or null, at and ms_iso(at) or null, null
      if at then c.metAfterSeconds = math.max(0, math.floor((at - started_ms()) / 100 + 0.5) / 10) end
      local after = at and c.metAfterSeconds or elapsed
      c.due = (within and after > within) and 'late' or 'on_time'
      if type(c.dispute) == 'table' and c.dispute.status == 'open' then
        c.dispute.status, c.dispute.resolvedAt = 'resolved', ms_iso(now_ms())
        local raw = redis.call('HGET', latest, 'dispute:' .. c.key)
        if raw then
          local d = cjson.decode(raw)
          d.data = c.dispute
          redis.call('HSET', latest, 'dispute:' .. c.key, cjson.encode(d))
        end
      end
    elseif sticky or (not verdict and c.status == 'met') then
      c.status = 'met'
      c.evidence, c.metAt, c.metAfterSeconds = p.evidence or null, p.metAt or null, p.metAfterSeconds or null
      c.due = p.due or 'on_time'
    else
      if verdict and c.status == 'missed' then
        c.evidence, c.metAt, c.metAfterSeconds = ids or null, at and ms_iso(at) or null, null
        if at then c.metAfterSeconds = math.max(0, math.floor((at - started_ms()) / 100 + 0.5) / 10) end
      elseif verdict then
        c.evidence, c.metAt, c.metAfterSeconds = p.evidence or null, p.metAt or null, p.metAfterSeconds or null
      end
      if c.evidence == nil then c.evidence, c.metAt, c.metAfterSeconds = null, null, null end
      local was = p.due == 'overdue' or c.due == 'overdue'
      if deadline == c.key and not was then announced = true end
      c.due = (was or deadline == c.key or (within and elapsed > within)) and 'overdue' or 'open'
    end
    total = total + c.weight
    if c.status == 'met' then met = met + c.weight * (c.due == 'late' and credit or 1) end
  end
  if not announced then return nil end
  data.score = total > 0 and math.floor(1000 * met / total + 0.5) / 10 or 0
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
    for i, c in ipairs(data.categories) do
      checklist[i] = {key = c.key, label = c.label, status = c.status, evidence = c.evidence, metAt = c.metAt,
        metAfterSeconds = c.metAfterSeconds, withinSeconds = c.withinSeconds, due = c.due, dispute = c.dispute}
    end
    return {score = data.score, checklist = checklist}
  elseif etype == 'sentiment' then
    return {sentiment = data.label}
  elseif etype == 'call-status' then
    return {callStatus = data.status}
  elseif etype == 'alert' then
    return {alert = data}
  end
  return {}
end

-- A call whose data expired after it ended takes nothing more: a replayed delivery cannot revive it.
if redis.call('EXISTS', tombstone) == 1 and redis.call('EXISTS', log) == 0 then
  local out = {'', '', '', '', '', '', ''}
  for i = FIRST, #ARGV, 4 do out[#out + 1] = 'stale' end
  return out
end

local ended_now, logged, board_changes = false, false, {}
if board_arg ~= '' then board_changes[1] = cjson.decode(board_arg) end
local out = {'', '', '', '', '', '', ''}

-- Log, keep as latest, publish and show on the board one frame; its log id. ``data``: the frame's data when the
-- caller has decoded it already (each decoding of a frame is a good part of a line's cost).
local function log_frame(etype, frame, ends, data)
  local id = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 't', etype, 'f', frame)
  logged = true
  local keyed_by = snapshot_types[etype]
  if keyed_by == '' then
    if not keeps_final(etype, etype, frame) then redis.call('HSET', latest, etype, frame) end
  elseif keyed_by then
    data = data or cjson.decode(frame).data
    redis.call('HSET', latest, etype .. ':' .. tostring(data[keyed_by]), frame)
  end
  if ends == '1' and redis.call('HSETNX', latest, 'ended', '1') == 1 then ended_now = true end
  redis.call(publish, channel, 'id: ' .. id .. '\ndata: ' .. frame .. '\n\n')
  if board_types[etype] then
    board_changes[#board_changes + 1] = board_fields(etype, data or cjson.decode(frame).data)
  end
  if ends == '1' then board_changes[#board_changes + 1] = {} end
  return id
end

-- Why a dispute cannot be opened, or nil: the call is unknown, the step is met, or one is open already.
local function dispute_refusal(data)
  if redis.call('EXISTS', log) == 0 then return 'refused:unknown' end
  if redis.call('SISMEMBER', met_key, data.category) == 1 then return 'refused:met' end
  local raw = redis.call('HGET', latest, 'dispute:' .. data.category)
  if raw and cjson.decode(raw).data.status == 'open' then return 'refused:open' end
  return nil
end

for i = FIRST, #ARGV, 4 do
  local dedupe, etype, ends, frame = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('SADD', seen, dedupe) == 0 then
    out[#out + 1] = 'duplicate'
  elseif etype == 'dispute' then
    -- A dispute carries the script's checklist (data.base) for a call that has no adherence state yet.
    local event = cjson.decode(frame)
    local base = event.data.base
    event.data.base = nil
    local refusal = dispute_refusal(event.data)
    if refusal then
      out[#out + 1] = refusal
    else
      out[#out + 1] = log_frame(etype, cjson.encode(event), ends)
      local state = type(base) == 'table' and base or {categories = {}}
      state.disputed = event.data
      local merged = merge_adherence(cjson.encode({type = 'adherence', data = state}))
      if merged then log_frame('adherence', merged, '0') end
    end
  else
    local data
    if etype == 'transcript' then
      data = cjson.decode(frame).data
      local at = iso_ms(data.timestamp)
      -- Scored by when it was said (ms), plus its arrival order / 1000 so that lines said in the same
      -- millisecond keep the order they came in (a double holds that fraction exactly at today's ms).
      if at and type(data.id) == 'string' then
        local count = redis.call('ZCARD', said)
        if count == 0 then created = true end
        redis.call('ZADD', said, at + (count % 1000) / 1000, data.id)
      end
    end
    if etype == 'adherence' then frame = merge_adherence(frame) end
    out[#out + 1] = frame and log_frame(etype, frame, ends, data) or 'duplicate'
  end
end

-- The session's own fields, read once: its start, whether its deadlines are scheduled, whether it ended, the
-- conversation it belongs to (written only when it is not that one yet), when the board's list last listed it, and
-- when its keys last got their TTL.
local started, scheduled, ended_field, owner, listed, refreshed = unpack(redis.call('HMGET', latest, 'started',
  'deadlines', 'ended', 'conversation', 'listed', 'refreshed'))
local had_started = started
if conv ~= '' and owner ~= conv then
  redis.call('HSET', latest, 'conversation', conv)
  owner = conv
end
local ended = ended_field ~= false
local keep_text = ended and ended_ttl_text or ttl_text
if ended_now then redis.call('SET', tombstone, '1', 'EX', math.max(ttl, ended_ttl)) end

-- The call starts when its first event is logged (the relay's clock): the board's startedAt, the origin
-- of every deadline and of metAfterSeconds. Until the bus says its deadlines are scheduled, it is returned.
if logged or redis.call('EXISTS', log) == 1 then
  if not started then
    started = tostring(now_ms())
    redis.call('HSET', latest, 'started', started)
  end
  if not scheduled then out[4] = started end
end

if #board_changes > 0 then
  local ms = now_ms()
  local raw = redis.call('GET', board)
  -- What the session is (a call, or a conversation with no call) and the channels heard on it, in order,
  -- so the board and the console show an SMS thread as a conversation, not as a call.
  local kind = string.match(session, call_sid_pattern) and 'call' or 'conversation'
  local s = raw and cjson.decode(raw) or {session = session, kind = kind,
    startedAt = tonumber(started) or ms, version = 0, utterances = 0}
  for _, fields in ipairs(board_changes) do
    for k, v in pairs(fields) do
      if k == 'alert' then  -- the board's flags: the rules firing now, by rule
        s.alerts = s.alerts or {}
        s.alerts[v.rule] = v.state == 'firing' and {title = v.title, severity = v.severity, why = v.why} or nil
      else
        s[k] = v
      end
    end
    local heard = fields.lastUtterance and fields.lastUtterance.channel
    if fields.lastUtterance then s.utterances = s.utterances + 1 end
    if type(heard) == 'string' then
      s.channels = s.channels or {}
      local known = false
      for _, c in ipairs(s.channels) do known = known or c == heard end
      if not known then s.channels[#s.channels + 1] = heard end
    end
  end
  if ended and not s.endedAt then s.endedAt = ms end
  s.version, s.updatedAt, s.ended = s.version + 1, ms, ended
  out[1] = cjson.encode(s)
  out[5], out[6] = tostring(ms), ended and '1' or '0'
  -- The board's list keeps when each call was last heard of, to expire the calls nobody hears of any more (after a
  -- whole TTL: a minute at the least). Kept to BOARD_RELIST_MS, a busy call's lines do not move it every time: on a
  -- list of under 128 calls (a listpack), each move parses every score on the list.
  if not listed or ms - tonumber(listed) >= BOARD_RELIST_MS then
    out[7] = '1'
    redis.call('HSET', latest, 'listed', tostring(ms))
  else
    out[7] = '0'
  end
  redis.call('SET', board, out[1], 'EX', keep_text)
end

-- The session's keys get their TTL again, not on every call (five EXPIREs, 4% of a line's instructions) but when:
-- the session has no start yet (its first logged event; until then every call), this call ended it (the shorter
-- TTL) or created a key, or the last refresh is REFRESH_MS old (a tenth of the TTL, if shorter; or the clock went
-- back). So each key's TTL is within that of the full TTL after the session's last event, and every key has one:
-- a key created after the last refresh (log and seen come with the start; said and met set ``created``) gets it now.
-- The summary gets its TTL as it is written.
local keep_ms = tonumber(keep_text) * 1000
local since = refreshed and now_ms() - tonumber(refreshed)
if not had_started or ended_now or created or not since or since < 0 or since >= math.min(REFRESH_MS, keep_ms / 10) then
  if started then redis.call('HSET', latest, 'refreshed', tostring(now_ms())) end
  for _, key in ipairs({log, latest, met_key, seen, said}) do redis.call('EXPIRE', key, keep_text) end
  if out[1] == '' then redis.call('EXPIRE', board, keep_text) end
end
out[2] = ended_now and '1' or ''
out[3] = owner or ''
return out
