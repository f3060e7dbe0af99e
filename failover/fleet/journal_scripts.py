"""The Lua scripts of `failover.fleet.redis_journal`: each change of the journal is one atomic step.

Keys, under the journal's prefix ``P``:

::

    P seq                 counter: the sequence number of every row (and its stream entry's id)
    P targets             set of the targets that ever owed anything
    P rows:<target>       hash key -> row, JSON [version, op, source, seq, attempts, last_error, quarantined]
    P stream:<target>     stream of owed (key, version); entry id "<seq>-0"; consumer group "repair"
    P payloads:<key>      hash version -> JSON [content_type, metadata JSON, has data (0/1)]
    P data:<key>          hash version -> the object's bytes (inline payloads only)
    P tombstones          hash key -> version of its latest delete
    P meta                hash name -> value (last_version, markers)

Every stream entry is delivered to the consumer that wrote it in the script that adds it
(``XADD`` then ``XREADGROUP ... >``), so an entry is always in exactly one consumer's
pending list: the writer repairs what it wrote, and another consumer takes it over only
by ``XAUTOCLAIM`` once it has been idle for the lease.  A row whose version is replaced,
settled or quarantined has its entry acknowledged and deleted in the same step.

Versions are compared byte by byte (``older``), as SQLite's ``<`` does, never with Lua's
``<`` (which follows the server's locale).
"""

from __future__ import annotations

GROUP = "repair"

# Shared by every script: ARGV[1] is the prefix.
_COMMON = """
local P = ARGV[1]
local function older(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function row_of(t, key)
  local raw = redis.call('HGET', P .. 'rows:' .. t, key)
  if raw then return cjson.decode(raw) end
  return nil
end
local function put_row(t, key, r)
  redis.call('HSET', P .. 'rows:' .. t, key, cjson.encode(r))
end
local function drop_entry(t, seq)
  local s = P .. 'stream:' .. t
  local id = string.format('%d-0', seq)
  redis.call('XACK', s, 'repair', id)
  redis.call('XDEL', s, id)
end
local function add_entry(t, key, version, consumer)
  local s = P .. 'stream:' .. t
  if redis.call('EXISTS', s) == 0 then
    redis.call('XGROUP', 'CREATE', s, 'repair', '$', 'MKSTREAM')
  end
  local seq = redis.call('INCR', P .. 'seq')
  local id = string.format('%d-0', seq)
  redis.call('XADD', s, id, 'k', key, 'v', version)
  -- Deliver it to its writer now.  Every entry is delivered when added, so '>' yields
  -- this one; the loop only guards against an entry some failed step left undelivered.
  while true do
    local got = redis.call('XREADGROUP', 'GROUP', 'repair', consumer, 'COUNT', 16, 'STREAMS', s, '>')
    if not got then break end
    local found = false
    for _, e in ipairs(got[1][2]) do
      if e[1] == id then found = true end
    end
    if found then break end
  end
  return seq
end
local function collect(key)
  -- Payloads no row refers to any more (superseded, or landed everywhere).
  local targets = redis.call('SMEMBERS', P .. 'targets')
  for _, v in ipairs(redis.call('HKEYS', P .. 'payloads:' .. key)) do
    local needed = false
    for _, t in ipairs(targets) do
      local r = row_of(t, key)
      if r and r[1] == v then needed = true break end
    end
    if not needed then
      redis.call('HDEL', P .. 'payloads:' .. key, v)
      redis.call('HDEL', P .. 'data:' .. key, v)
    end
  end
end
"""

# ARGV: prefix, consumer, key, version, op, source, payload kind (0 none, 1 no data,
# 2 with data), content type, metadata JSON, data, targets...
# Returns {JSON of the rows replaced, the tombstone there was or false}.
RECORD = (
    _COMMON
    + """
local consumer, key, version, op, source = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local replaced = {}
for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
  local r = row_of(t, key)
  if r and older(r[1], version) then table.insert(replaced, {t, r}) end
end
local tomb = redis.call('HGET', P .. 'tombstones', key)
for i = 11, #ARGV do
  local t = ARGV[i]
  redis.call('SADD', P .. 'targets', t)
  local r = row_of(t, key)
  if not r or older(r[1], version) then
    if r then drop_entry(t, r[4]) end
    local seq = add_entry(t, key, version, consumer)
    put_row(t, key, {version, op, source, seq, 0, '', 0})
  end
end
if ARGV[7] ~= '0' then
  redis.call('HSET', P .. 'payloads:' .. key, version, cjson.encode({ARGV[8], ARGV[9], tonumber(ARGV[7]) - 1}))
  if ARGV[7] == '2' then redis.call('HSET', P .. 'data:' .. key, version, ARGV[10]) end
end
if op == 'delete' then
  if not tomb or older(tomb, version) then redis.call('HSET', P .. 'tombstones', key, version) end
elseif tomb and older(tomb, version) then
  redis.call('HDEL', P .. 'tombstones', key)
end
local last = redis.call('HGET', P .. 'meta', 'last_version')
if not last or older(last, version) then redis.call('HSET', P .. 'meta', 'last_version', version) end
return {cjson.encode(replaced), tomb}
"""
)

# ARGV: prefix, key, version, source ('' for none), targets...
SETTLE = (
    _COMMON
    + """
local key, version, source = ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV do
  local t = ARGV[i]
  local r = row_of(t, key)
  if r and not older(version, r[1]) then
    redis.call('HDEL', P .. 'rows:' .. t, key)
    drop_entry(t, r[4])
  end
end
if source ~= '' then
  for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
    local r = row_of(t, key)
    if r and r[1] == version then r[3] = source put_row(t, key, r) end
  end
end
collect(key)
return 1
"""
)

# ARGV: prefix, consumer, key, version, the tombstone before ('' for none), JSON of the
# rows to restore.  Returns a flat list target, version of what the key is owed after.
# Another process may have recorded a newer version of the key since (nothing serialises
# writers of one key across processes): its rows stay, a prior row is put back only
# where no row is left, and the prior tombstone only if no newer row exists.
FORGET = (
    _COMMON
    + """
local consumer, key, version, tomb = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local newer = false
for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
  local r = row_of(t, key)
  if r and r[1] == version then
    redis.call('HDEL', P .. 'rows:' .. t, key)
    drop_entry(t, r[4])
  elseif r and older(version, r[1]) then
    newer = true
  end
end
for _, item in ipairs(cjson.decode(ARGV[6])) do
  local t, r = item[1], item[2]
  if not row_of(t, key) then
    if r[7] == 0 then
      r[4] = add_entry(t, key, r[1], consumer)
    else
      r[4] = redis.call('INCR', P .. 'seq')  -- quarantined: owed, but no entry to drain
    end
    put_row(t, key, r)
  end
end
if redis.call('HGET', P .. 'tombstones', key) == version then redis.call('HDEL', P .. 'tombstones', key) end
if tomb ~= '' and not newer then redis.call('HSETNX', P .. 'tombstones', key, tomb) end
collect(key)
local owed = {}
for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
  local r = row_of(t, key)
  if r then table.insert(owed, t) table.insert(owed, r[1]) end
end
return owed
"""
)

# ARGV: prefix, target, key, version, error, quarantine (0/1).
FAILURE = (
    _COMMON
    + """
local t, key, version = ARGV[2], ARGV[3], ARGV[4]
local r = row_of(t, key)
if not r or r[1] ~= version then return 0 end
r[5] = r[5] + 1
r[6] = ARGV[5]
if ARGV[6] == '1' and r[7] == 0 then
  r[7] = 1
  drop_entry(t, r[4])
end
put_row(t, key, r)
return 1
"""
)

# ARGV: prefix, consumer, target, after (a seq), limit, lease (ms), claim cursor.
# Takes over entries idle past the lease (a dead consumer's), then returns
# {the next claim cursor, rows}: this consumer's pending entries after ``after``, oldest
# first, as {key, version, op, source, seq, attempts}.  Entries whose row moved on are
# dropped.  XAUTOCLAIM looks at no more than COUNT x 10 pending entries a call, so each
# call resumes where the last one stopped (the caller keeps the cursor; '0-0' after a
# full round): live consumers' renewed entries at the head never hide a dead one's.
OWED = (
    _COMMON
    + """
local consumer, t, after, limit, lease = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local s = P .. 'stream:' .. t
if redis.call('EXISTS', s) == 0 then return {'0-0', {}} end
local claimed = redis.call('XAUTOCLAIM', s, 'repair', consumer, lease, ARGV[7], 'COUNT', limit, 'JUSTID')
local cursor = claimed[1]
local got = redis.call('XREADGROUP', 'GROUP', 'repair', consumer, 'COUNT', limit, 'STREAMS', s,
                       string.format('%d-0', after))
local out = {}
if not got then return {cursor, out} end
for _, e in ipairs(got[1][2]) do
  local seq = tonumber(string.match(e[1], '^(%d+)'))
  local fields = e[2]
  local r = nil
  if fields then r = row_of(t, fields[2]) end
  if r and r[4] == seq and r[7] == 0 then
    table.insert(out, {fields[2], r[1], r[2], r[3], seq, r[5]})
  else
    drop_entry(t, seq)
  end
end
return {cursor, out}
"""
)

# ARGV: prefix, consumer, target, key.  The row, if it is current, not quarantined and
# this consumer holds its entry; holding it renews the lease (idle back to 0).
ENTRY = (
    _COMMON
    + """
local consumer, t, key = ARGV[2], ARGV[3], ARGV[4]
local r = row_of(t, key)
if not r or r[7] == 1 then return false end
local s = P .. 'stream:' .. t
local id = string.format('%d-0', r[4])
local p = redis.call('XPENDING', s, 'repair', id, id, 1)
if #p == 0 or p[1][2] ~= consumer then return false end
redis.call('XCLAIM', s, 'repair', consumer, 0, id, 'JUSTID')
return {key, r[1], r[2], r[3], r[4], r[5]}
"""
)

# ARGV: prefix.  Every row: a flat list of target, key, row JSON, inline payload bytes.
ROWS = (
    _COMMON
    + """
local out = {}
for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
  local all = redis.call('HGETALL', P .. 'rows:' .. t)
  for i = 1, #all, 2 do
    local key, raw = all[i], all[i + 1]
    local r = cjson.decode(raw)
    table.insert(out, t)
    table.insert(out, key)
    table.insert(out, raw)
    table.insert(out, redis.call('HSTRLEN', P .. 'data:' .. key, r[1]))
  end
end
return out
"""
)

# ARGV: prefix.  A flat list target, rows owed, for every target that owes anything.
COUNTS = """
local out = {}
for _, t in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'targets')) do
  local n = redis.call('HLEN', ARGV[1] .. 'rows:' .. t)
  if n > 0 then table.insert(out, t) table.insert(out, n) end
end
return out
"""

# ARGV: prefix, version.  Deletes tombstones older than it; returns how many.
PRUNE = (
    _COMMON
    + """
local n = 0
local all = redis.call('HGETALL', P .. 'tombstones')
for i = 1, #all, 2 do
  if older(all[i + 1], ARGV[2]) then
    redis.call('HDEL', P .. 'tombstones', all[i])
    n = n + 1
  end
end
return n
"""
)

# ARGV: prefix, consumer.  Leaves the group of every stream where this consumer holds nothing.
LEAVE = """
local P, consumer = ARGV[1], ARGV[2]
for _, t in ipairs(redis.call('SMEMBERS', P .. 'targets')) do
  local s = P .. 'stream:' .. t
  if redis.call('EXISTS', s) == 1 then
    local mine = redis.call('XPENDING', s, 'repair', '-', '+', 1, consumer)
    if #mine == 0 then redis.call('XGROUP', 'DELCONSUMER', s, 'repair', consumer) end
  end
end
return 1
"""

__all__ = ["COUNTS", "ENTRY", "FAILURE", "FORGET", "GROUP", "LEAVE", "OWED", "PRUNE", "RECORD", "ROWS", "SETTLE"]
