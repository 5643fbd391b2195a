-- Engine E is alive for ttl ms more (with ARGV[5] = "1": gone, now), and
-- engines past their time are removed (a few at a time).
-- ARGV: prefix, E, ttl ms, topic, retire
-- Returns {fresh (1: the broker did not know E), transitions…}.
local p, e, topic = ARGV[1], ARGV[2], ARGV[4]
local out = {0}
if ARGV[5] == '1' then
  retire(p, e, topic, out)
  return out
end
local now = now_ms()
out[1] = redis.call('ZADD', p .. ':engines', now + tonumber(ARGV[3]), e)
local dead = redis.call('ZRANGEBYSCORE', p .. ':engines', '-inf', now, 'LIMIT', 0, 16)
for _, d in ipairs(dead) do
  if d ~= e then retire(p, d, topic, out) end
end
return out
