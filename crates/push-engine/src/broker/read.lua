-- Reads a channel's head and the history after a cursor, in one atomic
-- step. A channel with no head gets one (a new epoch at offset 0), so a
-- subscriber that starts live has a position every engine agrees on.
--
-- KEYS[1]  the channel's head: a hash {epoch, offset}
-- KEYS[2]  the channel's history: a stream whose entry ids are "<offset>-0"
-- ARGV[1]  the cursor's epoch ("" for none)
-- ARGV[2]  the cursor's offset
-- ARGV[3]  history ttl in milliseconds: older entries are left out
-- ARGV[4]  head ttl in milliseconds
--
-- Returns {epoch, offset, entries}: the entries after the cursor if it is
-- of the current epoch, else every entry held (the caller reports the loss).

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = redis.call('HGET', KEYS[1], 'offset')
if not epoch then
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  offset = '0'
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
end
local from = '-'
if ARGV[1] == epoch then
  from = '(' .. ARGV[2] .. '-0'
end
local entries = redis.call('XRANGE', KEYS[2], from, '+')
local cutoff = now_ms - tonumber(ARGV[3])
local fresh = {}
for _, e in ipairs(entries) do
  if tonumber(e[2][2]) > cutoff then
    -- {offset-0, age in ms, kind, event, data}
    fresh[#fresh + 1] = {e[1], tostring(now_ms - tonumber(e[2][2])), e[2][4], e[2][6], e[2][8]}
  end
end
return {epoch, offset, fresh}
