-- Appends one publication to a channel's history and publishes it, in one
-- atomic step, so every engine sees the same ids in the same order.
--
-- KEYS[1]  the channel's head: a hash {epoch, offset}
-- KEYS[2]  the channel's history: a stream whose entry ids are "<offset>-0"
-- ARGV[1]  the pub/sub channel engines listen on
-- ARGV[2]  kind: "t" (text) or "b" (binary), then ":connection[:user hex]"
--          for a publication a connection sent (redis.rs `kind`)
-- ARGV[3]  event name ("" for none)
-- ARGV[4]  data
-- ARGV[5]  history: entries kept (0: none)
-- ARGV[6]  history ttl in milliseconds (0: none kept)
-- ARGV[7]  head ttl in milliseconds
--
-- Returns {epoch, offset} as strings. A channel with no head (new, expired,
-- or Redis lost it) starts a new epoch from Redis' clock, and its old
-- history is dropped: old cursors then get the loss signal.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)

local history = tonumber(ARGV[5])
local ttl_ms = tonumber(ARGV[6])
if history > 0 and ttl_ms > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', history, offset .. '-0',
    'ts', now_ms, 'k', ARGV[2], 'e', ARGV[3], 'd', ARGV[4])
  -- Drop what is older than the ttl (the oldest entries come first).
  local cutoff = now_ms - ttl_ms
  while true do
    local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
    if #first == 0 or tonumber(first[1][2][2]) > cutoff then break end
    redis.call('XDEL', KEYS[2], first[1][1])
  end
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]))

redis.call('PUBLISH', ARGV[1],
  epoch .. '\n' .. offset .. '\n' .. ARGV[2] .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
return {epoch, tostring(offset)}
