-- Replaces what is held of engine E by its state now.
-- ARGV: prefix, E, topic, n, then n triples channel, member, info, then
-- pairs channel, subscribers.
-- Returns the transitions (as refresh.lua, without its first element).
--
-- What E has and the broker did not (Redis lost it, or a call failed) is
-- no news to the other engines' clients: it is added without a notice or
-- a transition. What the broker had and E has not any more leaves, told.
local p, e, topic = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[4])
local out = {}
local wanted = {}
for i = 5, 4 + 3 * n, 3 do
  wanted[ARGV[i] .. '\n' .. ARGV[i + 1]] = ARGV[i + 2]
end
local key = eng_key(p, e, 'pres')
local fields = redis.call('HGETALL', key)
local held = {}
for i = 1, #fields, 2 do
  local f = fields[i]
  if tonumber(fields[i + 1]) > 0 and wanted[f] then
    held[f] = true
  else
    redis.call('HDEL', key, f)
    if tonumber(fields[i + 1]) > 0 then
      local c, m = split(f)
      member_gone(p, c, m, e, topic, out)
    end
  end
end
for f, info in pairs(wanted) do
  if not held[f] then
    redis.call('HSET', key, f, 1)
    local c, m = split(f)
    member_came(p, c, m, info, e, nil, nil)
  end
end
local counts = {}
for i = 5 + 3 * n, #ARGV, 2 do counts[ARGV[i]] = tonumber(ARGV[i + 1]) end
for _, c in ipairs(redis.call('SMEMBERS', eng_key(p, e, 'occ'))) do
  if not counts[c] then occupancy(p, e, c, 0, out) end
end
local quiet = {}
for c, k in pairs(counts) do occupancy(p, e, c, k, quiet) end
return out
