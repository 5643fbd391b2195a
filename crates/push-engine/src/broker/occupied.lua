-- The occupied channels whose names start with ARGV[2] (prefix ARGV[1]),
-- with their subscribers summed over the engines: {c, n, c, n, …}.
local p, start = ARGV[1], ARGV[2]
local out = {}
local names
if ARGV[3] == 'exact' then
  names = {start}
else
  names = redis.call('SMEMBERS', p .. ':occupied')
end
for _, c in ipairs(names) do
  if string.sub(c, 1, #start) == start then
    local n = 0
    for _, v in ipairs(redis.call('HVALS', occ_key(p, c))) do n = n + tonumber(v) end
    if n > 0 then
      out[#out + 1] = c; out[#out + 1] = tostring(n)
    end
  end
end
return out
