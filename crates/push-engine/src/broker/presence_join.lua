-- A member's first connection on channel c in engine E.
-- ARGV: prefix, E, c, member, info, topic
-- Returns {first anywhere (1/0), id, info, id, info, …}: the members now.
local p, e, c, m = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local first = 0
local mine = redis.call('HINCRBY', eng_key(p, e, 'pres'), c .. '\n' .. m, 1)
if mine == 1 then
  first = member_came(p, c, m, ARGV[5], e, ARGV[6], nil)
end
local out = {first}
local all = redis.call('HGETALL', pres_key(p, c) .. ':info')
for i = 1, #all do out[#out + 1] = all[i] end
return out
