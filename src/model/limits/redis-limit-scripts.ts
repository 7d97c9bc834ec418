// Lua scripts of the Redis limit store: each runs atomically, so several processes share one set of buckets and
// one queue per account. Time is Redis's own (TIME): the processes' clocks are never compared. The algorithm is the
// one of memory-limit-store.ts.
//
// Keys per account: S (hash: per dimension tokens, at, learned, conf, held; blocked; seq; tot:<dimension>), Q (sorted set
// of waiting tickets by lane·1e15 + seq), W (hash ticket → "requests,input,output,tokens"), L (sorted set ticket →
// last time it asked), G (hash of tickets granted while their holder slept).

import { queueTuning } from './queue-tuning.ts';

const common = `
local dims = {'requests', 'inputTokens', 'outputTokens', 'tokens'}
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(value)
  if value == false or value == nil then return nil end
  return tonumber(value)
end
-- Refills every bucket to now; conf (4 limits, -1 for none) replaces the stored configured limits when given. A bucket
-- held (d:held, the time a call was taken from it full) does not refill until a call settles or is observed, or the
-- hold runs out: the provider's bucket stays full, refilling nothing, until that call reaches it.
local function refill(S, now, conf)
  local views = {}
  for i, d in ipairs(dims) do
    local f = redis.call('HMGET', S, d .. ':tokens', d .. ':at', d .. ':learned', d .. ':conf', d .. ':held')
    local c = num(f[4])
    if conf ~= nil then
      if conf[i] >= 0 then c = conf[i]; redis.call('HSET', S, d .. ':conf', c) else c = nil; redis.call('HDEL', S, d .. ':conf') end
    end
    local learned = num(f[3])
    local cap = c
    if learned ~= nil and (cap == nil or learned < cap) then cap = learned end
    if cap ~= nil and cap > 0 then
      local tokens = num(f[1]) or cap
      local at = num(f[2]) or now
      local elapsed = now - at
      if elapsed < 0 then elapsed = 0 end
      local held = num(f[5])
      if held ~= nil then
        if now - held < ${queueTuning.maxRefillHoldMs} then elapsed = 0 else redis.call('HDEL', S, d .. ':held') end
      end
      tokens = math.min(cap, tokens + elapsed * cap / 60000)
      if at < now then at = now end
      redis.call('HSET', S, d .. ':tokens', tostring(tokens), d .. ':at', string.format('%.0f', at))
      views[i] = {tokens = tokens, capacity = cap}
    end
  end
  return views
end
-- A call has settled or its response was observed: the provider has seen requests again, and held buckets refill.
local function release(S)
  for _, d in ipairs(dims) do redis.call('HDEL', S, d .. ':held') end
end
local function parseCost(text)
  local cost = {}
  for part in string.gmatch(text, '[^,]+') do cost[#cost + 1] = tonumber(part) end
  return cost
end
local function addTotals(S, cost, sign)
  for i, d in ipairs(dims) do redis.call('HINCRBYFLOAT', S, 'tot:' .. d, sign * cost[i]) end
end
local function removeWaiter(S, Q, W, L, ticket)
  local text = redis.call('HGET', W, ticket)
  if text then addTotals(S, parseCost(text), -1) end
  redis.call('ZREM', Q, ticket)
  redis.call('HDEL', W, ticket)
  redis.call('ZREM', L, ticket)
end
local function dropStale(S, Q, W, L, now, staleAfter)
  local stale = redis.call('ZRANGEBYSCORE', L, '-inf', string.format('%.0f', now - staleAfter), 'LIMIT', 0, 256)
  for _, ticket in ipairs(stale) do removeWaiter(S, Q, W, L, ticket) end
end
`;

/** KEYS: S Q W L G. ARGV: ticket, lane, cost ×4, limits ×4 (-1 none), staleAfterMs, grantsPerCall, expireMs. */
export const acquireScript = `${common}
local S, Q, W, L, G = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ticket, lane = ARGV[1], tonumber(ARGV[2])
local own = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local conf = {tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])}
local staleAfter, grants, expire = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local now = nowMs()
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, expire) end
if redis.call('HDEL', G, ticket) == 1 then return {1, 0, 0, redis.call('ZCARD', Q), {}} end
dropStale(S, Q, W, L, now, staleAfter)
if redis.call('HEXISTS', W, ticket) == 0 then
  local seq = redis.call('HINCRBY', S, 'seq', 1)
  redis.call('ZADD', Q, string.format('%.0f', lane * 1e15 + seq), ticket)
  redis.call('HSET', W, ticket, table.concat(own, ','))
  addTotals(S, own, 1)
end
redis.call('ZADD', L, string.format('%.0f', now), ticket)
local views = refill(S, now, conf)
local blocked = num(redis.call('HGET', S, 'blocked')) or 0
local granted = false
local others = {}
if now >= blocked then
  local heads = redis.call('ZRANGE', Q, 0, grants - 1)
  for _, head in ipairs(heads) do
    local cost = parseCost(redis.call('HGET', W, head) or '0,0,0,0')
    local fits = true
    for i, view in pairs(views) do
      if view.tokens < math.min(cost[i], view.capacity) then fits = false end
    end
    if not fits then break end
    for i, view in pairs(views) do
      if cost[i] > 0 and view.tokens >= view.capacity then redis.call('HSET', S, dims[i] .. ':held', string.format('%.0f', now)) end
      view.tokens = view.tokens - cost[i]
      redis.call('HSET', S, dims[i] .. ':tokens', tostring(view.tokens))
    end
    removeWaiter(S, Q, W, L, head)
    if head == ticket then granted = true else
      redis.call('HSET', G, head, string.format('%.0f', now))
      others[#others + 1] = head
    end
  end
end
local length = redis.call('ZCARD', Q)
if granted then return {1, 0, 0, length, others} end
local rank = redis.call('ZRANK', Q, ticket)
local wait = blocked - now
if wait < 0 then wait = 0 end
for i, view in pairs(views) do
  local total = num(redis.call('HGET', S, 'tot:' .. dims[i])) or 0
  local ahead = 0
  if length > 1 then ahead = rank * (total - own[i]) / (length - 1) end
  local needed = ahead + math.min(own[i], view.capacity) - view.tokens
  if needed > 0 then
    local ms = needed * 60000 / view.capacity
    if ms > wait then wait = ms end
  end
end
wait = math.ceil(wait)
if wait < 1 then wait = 1 end
return {0, wait, rank, length, others}
`;

/** KEYS: S Q W L G. ARGV: ticket. */
export const cancelScript = `${common}
removeWaiter(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
`;

/** KEYS: S. ARGV: reserved ×4, actual ×4. */
export const settleScript = `${common}
local S = KEYS[1]
local views = refill(S, nowMs(), nil)
release(S)
for i, view in pairs(views) do
  local tokens = math.min(view.capacity, view.tokens + tonumber(ARGV[i]) - tonumber(ARGV[i + 4]))
  redis.call('HSET', S, dims[i] .. ':tokens', tostring(tokens))
end
return 1
`;

/** KEYS: S. ARGV: per dimension limit, remaining, resetInMs (-1 for absent) ×4, then blockForMs (-1 none). */
export const observeScript = `${common}
local S = KEYS[1]
local now = nowMs()
for i, d in ipairs(dims) do
  local limit = tonumber(ARGV[(i - 1) * 3 + 1])
  if limit > 0 then redis.call('HSET', S, d .. ':learned', limit) end
end
local views = refill(S, now, nil)
release(S)
for i, view in pairs(views) do
  local remaining = tonumber(ARGV[(i - 1) * 3 + 2])
  local reset = tonumber(ARGV[(i - 1) * 3 + 3])
  if remaining >= 0 then
    local tokens = math.min(view.tokens, remaining)
    if reset >= 0 then tokens = math.min(tokens, view.capacity - reset * view.capacity / 60000) end
    redis.call('HSET', S, dims[i] .. ':tokens', tostring(tokens))
  end
end
local block = tonumber(ARGV[13])
if block > 0 then
  local blocked = num(redis.call('HGET', S, 'blocked')) or 0
  if now + block > blocked then redis.call('HSET', S, 'blocked', string.format('%.0f', now + block)) end
end
return 1
`;

/** KEYS: S Q W L. ARGV: staleAfterMs. */
export const queueLengthScript = `${common}
dropStale(KEYS[1], KEYS[2], KEYS[3], KEYS[4], nowMs(), tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[2])
`;

/** KEYS: prefix of the budget key. ARGV: windowMs, tokens (0 to read). Returns spent and ms until the window ends. */
export const budgetScript = `${common}
local now = nowMs()
local windowMs = tonumber(ARGV[1])
local window = math.floor(now / windowMs)
local key = KEYS[1] .. ':' .. string.format('%.0f', window)
local tokens = tonumber(ARGV[2])
local spent
if tokens > 0 then
  spent = redis.call('INCRBY', key, tokens)
  redis.call('PEXPIRE', key, windowMs * 2)
else
  spent = num(redis.call('GET', key)) or 0
end
return {spent, (window + 1) * windowMs - now}
`;
