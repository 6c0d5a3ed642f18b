-- The limiter's state for one key in Redis: the token queue (pacing.py), its adaptive rate
-- (adaptation.py) and the slot queue (slots.py), one atomic call per operation. The
-- Python modules are the reference; this is a port of them, checked against them step by step
-- (tests/test_limiter_redis.py). Time is Redis's own (TIME), in AWS seconds at the run's time
-- scale, so the clocks of the hosts sharing it do not matter.
--
-- KEYS: 1 queue, 2 line, 3 due, 4 rate, 5 holders, 6 slot line, 7 slot due, 8 slot counters
-- ARGV: 1 operation, 2 time scale, 3 now (AWS seconds; "" = Redis TIME, tests only pass it),
--       4 key lifetime (wall seconds), then the operation's own arguments.
local op, scale, given_now, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local QUEUE, LINE, DUE, RATE, HOLDERS, PLINE, PDUE, PMETA = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6],
                                                     KEYS[7], KEYS[8]
local EPSILON, NEVER = 1e-9, 1e300

local function clock()
  if given_now ~= "" then return tonumber(given_now) end
  local t = redis.call("TIME")
  return (tonumber(t[1]) + tonumber(t[2]) / 1e6) / scale
end

local function num(x) return string.format("%.17g", x) end

local function load(key, fields)
  local values = redis.call("HMGET", key, unpack(fields))
  local out = {}
  for i, f in ipairs(fields) do out[f] = tonumber(values[i]) end
  return out
end

local function save(key, t)
  local flat = {}
  for f, v in pairs(t) do flat[#flat + 1] = f; flat[#flat + 1] = num(v) end
  redis.call("HSET", key, unpack(flat))
end

local function keep(...)
  for _, key in ipairs({...}) do redis.call("EXPIRE", key, ttl) end
end

-- --- the token queue (pacing.TokenQueue) ----------------------------------------------------
local QUEUE_FIELDS = {"rate", "capacity", "tokens", "stamp", "window", "window_start", "count", "previous",
                      "granted", "waited", "seq"}
local RATE_FIELDS = {"prate", "pcapacity", "ceiling", "rate", "throttled_at", "depth", "last_cut", "since_cut",
                     "seen", "born", "slow", "cuts"}

local function refill(q, now)
  if now > q.stamp then
    q.tokens = math.min(q.capacity, q.tokens + (now - q.stamp) * q.rate)
    q.stamp = now
  end
end

local function set_rate(q, rate, capacity, now, drain)
  refill(q, now)
  q.rate, q.capacity = rate, capacity
  q.tokens = math.min(q.tokens, drain and 0.0 or capacity)
end

local function count_grant(q, now)
  local elapsed = now - q.window_start
  if elapsed >= q.window then
    local windows = math.floor(elapsed / q.window)
    q.previous = (windows == 1) and q.count or 0
    q.count, q.window_start = 0, q.window_start + windows * q.window
  end
  q.count = q.count + 1
  q.granted = q.granted + 1
end

local function send_rate(q, now)
  local elapsed = now - q.window_start
  if elapsed >= 2 * q.window then return 0.0 end
  if elapsed >= q.window then return q.count * (2 * q.window - elapsed) / q.window / q.window end
  return (q.previous * (q.window - elapsed) / q.window + q.count) / q.window
end

local function drop_stale(line, due, now)
  local stale = redis.call("ZRANGEBYSCORE", due, "-inf", "(" .. num(now))
  if #stale > 0 then
    redis.call("ZREM", due, unpack(stale))
    redis.call("ZREM", line, unpack(stale))
  end
end

local function limiting(q, now)
  refill(q, now)
  return redis.call("ZCARD", LINE) > 0 or (q.waited == 1 and q.tokens < 1.0)
end

-- --- the adaptive rate (adaptation.AdaptiveRate) ----------------------------------------------
-- ARGV from 5 on for feedback: sent_at, throttled, then BETA, NEAR, RECOVERY_CALLS, DOUBLING,
-- FLOOR, EARLY from adaptation.py (one source for the constants).
local function on_throttle(r, c, sent_at, now, sending)
  r.seen = math.max(r.seen, now)
  if sent_at < r.last_cut then return false end
  local floor = r.prate * c.floor
  local going = r.rate
  if sending and sending > 0 then going = math.min(r.rate, sending) end
  going = math.max(floor, going)
  local recovering = r.slow == 0 and r.throttled_at ~= nil
                     and r.since_cut * c.near * r.throttled_at < c.recovery
  r.throttled_at, r.depth = going, recovering and c.beta * c.beta or c.beta
  r.rate = math.max(floor, r.depth * going)
  r.last_cut, r.since_cut = now, 0.0
  r.slow = (now - r.born < c.early) and 1 or 0
  r.cuts = r.cuts + 1
  return true
end

local function on_success(r, c, sent_at, now, is_limiting)
  local dt = math.max(0.0, now - r.seen)
  r.seen = math.max(r.seen, now)
  if sent_at < r.last_cut or not is_limiting or dt == 0.0 then return end
  if r.slow == 1 then
    r.rate = r.rate * 2 ^ (dt / c.doubling)
  elseif r.throttled_at == nil then
    return
  else
    r.since_cut = r.since_cut + dt
    local w = c.near * r.throttled_at
    -- depth: where the last cut left the rate (state a version without it saved: the usual cut)
    local k = (1 - (r.depth or c.beta) / c.near) / c.recovery ^ 3
    r.rate = math.max(r.rate, w * (1 + k * (r.since_cut * w - c.recovery) ^ 3))
  end
  if r.ceiling == 1 then r.rate = math.min(r.rate, r.prate) end
end

local function capacity(r)
  return math.max(1.0, r.pcapacity * math.min(1.0, r.rate / r.prate))
end

-- --- the slot queue (slots.SlotQueue) ---------------------------------------------------
local function tidy_slots(now)
  local gone = redis.call("ZRANGEBYSCORE", HOLDERS, "-inf", num(now))
  if #gone > 0 then
    redis.call("ZREM", HOLDERS, unpack(gone))
    redis.call("HINCRBY", PMETA, "n", #gone)
  end
  drop_stale(PLINE, PDUE, now)
end

-- --- operations -------------------------------------------------------------------------------
local now = clock()

if op == "now" then
  return num(now)

elseif op == "ask_token" then
  -- ARGV 5 ticket, 6 new (1: the caller has no place yet), 7 rate, 8 capacity, 9 ceiling, 10 stale after
  local ticket, new = ARGV[5], ARGV[6] == "1"
  local q = load(QUEUE, QUEUE_FIELDS)
  if q.rate == nil then
    local rate, cap, ceiling = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
    q = {rate = rate, capacity = cap, tokens = cap, stamp = now, window = 1.0, window_start = now, count = 0,
         previous = 0, granted = 0, waited = 0, seq = 0}
    save(RATE, {prate = rate, pcapacity = cap, ceiling = ceiling, rate = rate, last_cut = -NEVER, since_cut = 0,
                seen = now, born = now, slow = (ceiling == 1) and 0 or 1, cuts = 0})
  end
  refill(q, now)
  drop_stale(LINE, DUE, now)
  local answer
  if new and redis.call("ZCARD", LINE) == 0 and q.tokens >= 1.0 - EPSILON then
    q.tokens = q.tokens - 1.0; q.waited = 0; count_grant(q, now)
    answer = {"", "0", num(now)}
  else
    if redis.call("ZSCORE", LINE, ticket) == false then
      q.seq = q.seq + 1
      redis.call("ZADD", LINE, q.seq, ticket)
      redis.call("ZADD", DUE, NEVER, ticket)
    end
    local position = redis.call("ZRANK", LINE, ticket)
    if q.tokens >= position + 1.0 - EPSILON then
      redis.call("ZREM", LINE, ticket); redis.call("ZREM", DUE, ticket)
      q.tokens = q.tokens - 1.0; q.waited = 1; count_grant(q, now)
      answer = {"", "0", num(now)}
    else
      local wait = (position + 1.0 - q.tokens) / q.rate
      redis.call("ZADD", DUE, num(now + wait + tonumber(ARGV[10])), ticket)
      answer = {ticket, num(wait), num(now)}
    end
  end
  save(QUEUE, q)
  keep(QUEUE, LINE, DUE, RATE)
  return answer

elseif op == "feedback" then
  local q = load(QUEUE, QUEUE_FIELDS)
  local r = load(RATE, RATE_FIELDS)
  if r.rate == nil or q.rate == nil then return "0" end
  local sent_at, throttled = tonumber(ARGV[5]), ARGV[6] == "1"
  local c = {beta = tonumber(ARGV[7]), near = tonumber(ARGV[8]), recovery = tonumber(ARGV[9]),
             doubling = tonumber(ARGV[10]), floor = tonumber(ARGV[11]), early = tonumber(ARGV[12])}
  local before, cut = r.rate, false
  if throttled then
    cut = on_throttle(r, c, sent_at, now, send_rate(q, now))
  else
    on_success(r, c, sent_at, now, limiting(q, now))
  end
  if r.rate ~= before or cut then set_rate(q, r.rate, capacity(r), now, cut) end
  save(QUEUE, q)
  if r.throttled_at == nil then redis.call("HDEL", RATE, "throttled_at") end
  save(RATE, r)
  keep(QUEUE, LINE, DUE, RATE)
  return num(r.rate)

elseif op == "rate" then
  local rate = redis.call("HGET", RATE, "rate")
  return rate or ""

elseif op == "ask_slot" then
  -- ARGV 5 ticket, 6 limit, 7 lease seconds, 8 stale after
  local ticket, limit, lease = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
  tidy_slots(now)
  if redis.call("ZSCORE", PLINE, ticket) == false then
    local seq = redis.call("HINCRBY", PMETA, "seq", 1)
    redis.call("ZADD", PLINE, seq, ticket)
    redis.call("ZADD", PDUE, NEVER, ticket)
  end
  local free = limit - redis.call("ZCARD", HOLDERS)
  local position = redis.call("ZRANK", PLINE, ticket)
  local answer
  if position < free then
    redis.call("ZREM", PLINE, ticket); redis.call("ZREM", PDUE, ticket)
    redis.call("ZADD", HOLDERS, num(now + lease), ticket)
    answer = {"", num(now + lease), num(now)}
  else
    redis.call("ZADD", PDUE, num(now + tonumber(ARGV[8])), ticket)
    answer = {ticket, "", num(now)}
  end
  keep(HOLDERS, PLINE, PDUE, PMETA)
  return answer

elseif op == "release" then
  return redis.call("ZREM", HOLDERS, ARGV[5])

elseif op == "renew" then
  tidy_slots(now)
  if redis.call("ZSCORE", HOLDERS, ARGV[5]) == false then return "" end
  local expires = now + tonumber(ARGV[6])
  redis.call("ZADD", HOLDERS, num(expires), ARGV[5])
  keep(HOLDERS, PLINE, PDUE, PMETA)
  return num(expires)

elseif op == "waiters" then
  return redis.call("ZCARD", PLINE)

elseif op == "held" then
  tidy_slots(now)
  return redis.call("ZCARD", HOLDERS)

elseif op == "leave" then
  for _, pair in ipairs({{LINE, DUE}, {PLINE, PDUE}}) do
    redis.call("ZREM", pair[1], ARGV[5]); redis.call("ZREM", pair[2], ARGV[5])
  end
  return 1
end
return redis.error_reply("unknown limiter operation " .. op)
