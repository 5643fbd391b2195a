-- Presence and occupancy across engines: the functions the scripts below
-- share (redis.rs prepends this file to each of them). Every script runs
-- atomically, so exactly one engine sees a member's first connection
-- anywhere, its last, a channel's first subscriber anywhere, its last.
--
-- Keys, under the prefix p (push.redis_prefix), for engine E and channel c:
--
--   p:engines            zset E -> the time (ms) E is taken for dead after
--   p:eng:{E}:pres       hash "c\nmember" -> 1: members with connections on E
--   p:eng:{E}:occ        set of the channels E has subscribers on
--   p:pres:{c}           hash member -> how many engines it has connections on
--   p:pres:{c}:info      hash member -> its info (JSON text, "" for none)
--   p:occ:{c}            hash E -> E's subscribers on c
--   p:occupied           set of the channels with subscribers anywhere
--
-- Arrivals and departures are published on the pub/sub channel `topic` as
-- JSON {k = "j" | "l", e = engine, c = channel, m = member, i = info}.
-- Transitions are returned as flat triples: kind ("j", "l", "o", "v"),
-- channel, member ("" for o and v), and for "j" a fourth: the info.

local function pres_key(p, c) return p .. ':pres:{' .. c .. '}' end
local function occ_key(p, c) return p .. ':occ:{' .. c .. '}' end
local function eng_key(p, e, what) return p .. ':eng:{' .. e .. '}:' .. what end

local function member_came(p, c, m, info, e, topic, out)
  local n = redis.call('HINCRBY', pres_key(p, c), m, 1)
  if n ~= 1 then return 0 end
  redis.call('HSET', pres_key(p, c) .. ':info', m, info)
  if topic then
    redis.call('PUBLISH', topic, cjson.encode({k = 'j', e = e, c = c, m = m, i = info}))
  end
  if out then
    out[#out + 1] = 'j'; out[#out + 1] = c; out[#out + 1] = m; out[#out + 1] = info
  end
  return 1
end

local function member_gone(p, c, m, e, topic, out)
  local n = redis.call('HINCRBY', pres_key(p, c), m, -1)
  if n > 0 then return 0 end
  redis.call('HDEL', pres_key(p, c), m)
  redis.call('HDEL', pres_key(p, c) .. ':info', m)
  redis.call('PUBLISH', topic, cjson.encode({k = 'l', e = e, c = c, m = m}))
  if out then
    out[#out + 1] = 'l'; out[#out + 1] = c; out[#out + 1] = m
  end
  return 1
end

-- Sets E's subscriber count on c; notes "o" or "v" in out on a transition.
local function occupancy(p, e, c, count, out)
  local key = occ_key(p, c)
  local before = redis.call('HLEN', key)
  if count > 0 then
    redis.call('HSET', key, e, count)
    redis.call('SADD', eng_key(p, e, 'occ'), c)
  else
    redis.call('HDEL', key, e)
    redis.call('SREM', eng_key(p, e, 'occ'), c)
  end
  local after = redis.call('HLEN', key)
  if before == 0 and after > 0 then
    redis.call('SADD', p .. ':occupied', c)
    out[#out + 1] = 'o'; out[#out + 1] = c; out[#out + 1] = ''
  elseif before > 0 and after == 0 then
    redis.call('SREM', p .. ':occupied', c)
    out[#out + 1] = 'v'; out[#out + 1] = c; out[#out + 1] = ''
  end
end

local function split(field)
  local at = string.find(field, '\n', 1, true)
  return string.sub(field, 1, at - 1), string.sub(field, at + 1)
end

-- Removes everything of engine e: its members leave, its channels empty.
local function retire(p, e, topic, out)
  local fields = redis.call('HGETALL', eng_key(p, e, 'pres'))
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) > 0 then
      local c, m = split(fields[i])
      member_gone(p, c, m, e, topic, out)
    end
  end
  redis.call('DEL', eng_key(p, e, 'pres'))
  for _, c in ipairs(redis.call('SMEMBERS', eng_key(p, e, 'occ'))) do
    occupancy(p, e, c, 0, out)
  end
  redis.call('DEL', eng_key(p, e, 'occ'))
  redis.call('ZREM', p .. ':engines', e)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
