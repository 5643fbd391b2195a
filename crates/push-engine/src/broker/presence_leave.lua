-- A member's last connection on channel c in engine E left.
-- ARGV: prefix, E, c, member, topic
-- Returns 1 if that was its last connection anywhere, else 0.
local p, e, c, m = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key, field = eng_key(p, e, 'pres'), c .. '\n' .. m
local mine = redis.call('HINCRBY', key, field, -1)
if mine > 0 then return 0 end
redis.call('HDEL', key, field)
-- Below zero: E's state was removed meanwhile (taken for dead), and the
-- member with it.
if mine < 0 then return 0 end
return member_gone(p, c, m, e, ARGV[5], nil)
