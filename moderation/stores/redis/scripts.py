"""The Lua scripts the Redis store runs: one atomic writer and two consistent readers."""

from __future__ import annotations

# APPLY runs one change atomically: it checks that what the caller read still holds
# (guards), then writes. A guard that fails returns {"retry", index} and writes nothing,
# so the caller reads again and plans again (optimistic concurrency, decided in Redis).
# Every write below cannot fail once the guards hold: Redis does not roll a script back.
#
# ARGV[1] is a JSON program: {"guards": [...], "ops": [...]}; every value is a string,
# {"ref": name} for a number an earlier op produced (a counter, a sequence number), or
# {"arg": n} for ARGV[n] (long values: posts, events, audit entries).
# ARGV[2] is how many entries an event stream keeps (approximate trimming).
#
# guards: ["absent", key] | ["field", key, field, value or null for no such field]
#         | ["zcard", key, count] | ["head", list key, first value or null for an empty list]
# ops:    ["incr", key, ref] | ["hset", key, {field: value}] | ["hdel", key, field...]
#         | ["set", key, value] | ["lpush", key, value] | ["lpop", key]
#         | ["zadd", key, score, member] | ["zrem", key, member]
#         | ["xadd", key, field, value]  (automatic id)
#         | ["event", stream, counter, ref, type, data, at]  (id "<seq>-0", seq = INCR counter)
APPLY = """
local program = cjson.decode(ARGV[1])
local kept = ARGV[2]
for i, guard in ipairs(program.guards) do
  local kind, key = guard[1], guard[2]
  if kind == 'absent' then
    if redis.call('EXISTS', key) == 1 then return {'retry', i} end
  elseif kind == 'field' or kind == 'head' then
    local now
    if kind == 'field' then now = redis.call('HGET', key, guard[3])
    else now = redis.call('LINDEX', key, 0) end
    local want = guard[#guard]
    if want == cjson.null then want = false end
    if now ~= want then return {'retry', i} end
  elseif kind == 'zcard' then
    if redis.call('ZCARD', key) ~= tonumber(guard[3]) then return {'retry', i} end
  else
    return redis.error_reply('unknown guard ' .. tostring(kind))
  end
end
local known = {incr = 1, hset = 1, hdel = 1, set = 1, lpush = 1, lpop = 1, zadd = 1,
               zrem = 1, xadd = 1, event = 1}
for _, op in ipairs(program.ops) do
  if not known[op[1]] then return redis.error_reply('unknown op ' .. tostring(op[1])) end
end
local refs = {}
local function value(v)
  if type(v) == 'table' then
    if v.ref then return refs[v.ref] end
    return ARGV[v.arg]
  end
  return v
end
for _, op in ipairs(program.ops) do
  local name, key = op[1], op[2]
  if name == 'incr' then
    refs[op[3]] = redis.call('INCR', key)
  elseif name == 'hset' then
    local args = {}
    for field, v in pairs(op[3]) do
      args[#args + 1] = field
      args[#args + 1] = value(v)
    end
    redis.call('HSET', key, unpack(args))
  elseif name == 'hdel' then
    redis.call('HDEL', key, unpack(op, 3))
  elseif name == 'set' then
    redis.call('SET', key, op[3])
  elseif name == 'lpush' then
    redis.call('LPUSH', key, op[3])
  elseif name == 'lpop' then
    redis.call('LPOP', key)
  elseif name == 'zadd' then
    redis.call('ZADD', key, value(op[3]), op[4])
  elseif name == 'zrem' then
    redis.call('ZREM', key, op[3])
  elseif name == 'xadd' then
    redis.call('XADD', key, '*', op[3], value(op[4]))
  elseif name == 'event' then
    local seq = redis.call('INCR', op[3])
    refs[op[4]] = seq
    redis.call('XADD', key, 'MAXLEN', '~', kept, seq .. '-0',
               'type', op[5], 'data', value(op[6]), 'at', op[7])
  end
end
return {'ok', cjson.encode(refs)}
"""

# ITEMS reads a range of a status index and every field of those posts in one step.
# KEYS[1] the index; ARGV: start, stop, "rev" or "", the post key prefix, then field names.
ITEMS = """
local ids
if ARGV[3] == 'rev' then
  ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
else
  ids = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = redis.call('HMGET', ARGV[4] .. id, unpack(fields))
end
return out
"""

# SNAPSHOT reads the last public sequence number, the pause, the pinned post and the
# newest shown posts together, so that no event can fall between the reads.
# KEYS[1] the public counter, KEYS[2] the shown index, KEYS[3] the wall switches;
# ARGV: limit, the post key prefix. Returns seq, paused, then the data and share count of
# the pinned post ('' and '' when none), then of each post.
SNAPSHOT = """
local out = {redis.call('GET', KEYS[1]) or '0', redis.call('HGET', KEYS[3], 'paused') or ''}
local pinned = redis.call('HGET', KEYS[3], 'pinned')
out[3] = pinned and redis.call('HGET', ARGV[2] .. pinned, 'data') or ''
out[4] = pinned and redis.call('HGET', ARGV[2] .. pinned, 'shares') or ''
local ids = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  out[#out + 1] = redis.call('HGET', ARGV[2] .. id, 'data') or ''
  out[#out + 1] = redis.call('HGET', ARGV[2] .. id, 'shares') or ''
end
return out
"""

# RECORDS reads, in one step, every field of some posts, every version of some posts (their
# groups, oldest first) and the pinned post: what a batch of submits depends on.
# KEYS[1] the wall switches; ARGV: the post key prefix, the group key prefix, the number of
# fields, the field names, the number of posts, their ids, then the roots of the groups.
# Returns {rows of the posts, {rows of each group}, the pinned post id or ''}.
RECORDS = """
local prefix, group_prefix = ARGV[1], ARGV[2]
local nfields = tonumber(ARGV[3])
local fields = {}
for i = 1, nfields do fields[i] = ARGV[3 + i] end
local at = 4 + nfields
local nids = tonumber(ARGV[at])
local rows = {}
for i = at + 1, at + nids do
  rows[#rows + 1] = redis.call('HMGET', prefix .. ARGV[i], unpack(fields))
end
local groups = {}
for i = at + nids + 1, #ARGV do
  local group = {}
  for _, id in ipairs(redis.call('ZRANGE', group_prefix .. ARGV[i], 0, -1)) do
    group[#group + 1] = redis.call('HMGET', prefix .. id, unpack(fields))
  end
  groups[#groups + 1] = group
end
return {rows, groups, redis.call('HGET', KEYS[1], 'pinned') or ''}
"""
