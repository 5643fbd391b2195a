-- The members of channel c: {id, info, id, info, …}.
-- ARGV: prefix, c
return redis.call('HGETALL', pres_key(ARGV[1], ARGV[2]) .. ':info')
