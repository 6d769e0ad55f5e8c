// The Lua scripts of the Redis limiter. Each runs atomically in Redis and takes the time from
// Redis (`TIME`), so the processes sharing a limit need not agree on a clock. Each grants up to
// ARGV[1] tokens ("want": one request, or a lease) but only if at least ARGV[2] ("need": the
// request itself) are available, and replies { granted, remaining, resetAfterMs }.
//
// Redis 5+ replicates scripts by their effects, so reading TIME before writing is allowed.

/** KEYS[1] hash {w: window index, c: count}; ARGV: want, need, limit, windowMs. */
export const FIXED_WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want, need = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local idx = math.floor(now / window)
local state = redis.call('HMGET', KEYS[1], 'w', 'c')
local count = 0
if tonumber(state[1]) == idx then count = tonumber(state[2]) or 0 end
local grant = math.min(want, limit - count)
if grant < need then grant = 0 end
count = count + grant
redis.call('HSET', KEYS[1], 'w', idx, 'c', count)
redis.call('PEXPIRE', KEYS[1], window * 2)
return { grant, limit - count, (idx + 1) * window - now }
`;

/** KEYS[1] hash {w, cur, prev}; ARGV: want, need, limit, windowMs. The counter approximation. */
export const SLIDING_WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want, need = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local idx = math.floor(now / window)
local state = redis.call('HMGET', KEYS[1], 'w', 'cur', 'prev')
local w, cur, prev = tonumber(state[1]), tonumber(state[2]) or 0, tonumber(state[3]) or 0
if w ~= idx then
  if w == idx - 1 then prev = cur else prev = 0 end
  cur = 0
end
local elapsed = now - idx * window
local estimate = prev * (window - elapsed) / window + cur
local available = math.floor(limit - estimate)
local grant = math.min(want, available)
if grant < need then grant = 0 end
cur = cur + grant
redis.call('HSET', KEYS[1], 'w', idx, 'cur', cur, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], window * 2)
return { grant, math.max(0, available - grant), window - elapsed }
`;

/**
 * KEYS[1] hash {tokens, ts}; ARGV: want, need, capacity, windowMs. Continuous refill of
 * `capacity` tokens per `windowMs`; a new bucket starts full.
 */
export const TOKEN_BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local want, need = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local rate = capacity / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, ts = capacity, now end
if now > ts then tokens = math.min(capacity, tokens + (now - ts) * rate) end
local grant = math.min(want, math.floor(tokens))
if grant < need then grant = 0 end
tokens = tokens - grant
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1000)
local reset = 0
if grant == 0 then reset = (need - tokens) / rate
elseif tokens < capacity then reset = (math.floor(tokens) + 1 - tokens) / rate end
return { grant, math.floor(tokens), math.ceil(reset) }
`;
