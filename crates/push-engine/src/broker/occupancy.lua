-- Engine E's subscriber counts: ARGV prefix, E, then pairs channel, count
-- (0: none any more). Returns the transitions (triples "o"/"v", c, "").
local p, e = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  occupancy(p, e, ARGV[i], tonumber(ARGV[i + 1]), out)
end
return out
