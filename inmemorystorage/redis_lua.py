"""The Redis engine's server-side scripts: every change to a namespace is one of these, whole.

Redis runs a script atomically: no other command of any client runs while it
does. So each operation that must be one step across processes (claim a
name, check the budget, evict, publish; or load a batch all or nothing) is
one script, and a reader's ``GET`` of a file's value is one command: it sees
the file before a script or after it, never between.

Keys of a namespace share the hash tag ``{namespace}`` (``P`` below, the
prefix ``ims:{namespace}:``), so that they fall in one Redis Cluster slot:

* ``P f:<name>``: a file, one string: a header of three big-endian doubles,
  ``m`` (published, microseconds since the epoch, strictly increasing in the
  namespace: also the version), ``cr`` (created) and ``a`` (last read), then
  the content. One string, not a hash: a hash whose content passes 64 bytes
  leaves Redis's compact encoding, and cost 432 bytes a file against about
  200 (measured by the bench);
* ``P d:<name>``: a directory's times (``c``, ``m``, ``a``); the root is ``P d:``;
* ``P ls:<name>``: a directory's children, base name to ``f`` or ``d``;
* ``P lru``: every file name, scored by a counter of uses: the recency order;
* ``P ev`` and ``P evq``: remembered evictions (name to ``size:time``) and
  their order;
* ``P evictions``: a pub/sub channel; each eviction is published there as
  the evicting store's origin, ``name``, ``size`` and ``time`` on four lines,
  for every process's console (a name may hold newlines: a reader takes the
  origin from the front, the size and the time from the end);
* ``P meta``: the bytes charged (``fb`` files, ``db`` directories, ``rb``
  records), the clock, the use counter and the counters of ``stats()``.

Times are microseconds, from the server's ``TIME``: one clock for every
process (and Lua's numbers hold integers exactly only up to 2**53, which
nanoseconds since the epoch pass). The overheads are those of
``budget.py``, passed in by the caller, so that both engines count alike for
ASCII names; a name is charged ``#name``, its UTF-8 bytes as the server
holds it (``redis_store.name_charge`` counts the same in Python).
"""

from __future__ import annotations

import re

__all__ = [
    "CLEAR",
    "DELETE",
    "FILES",
    "LISTDIR",
    "LISTING",
    "LOAD",
    "PUT",
    "READ",
    "REPAIR",
    "STAT",
    "STATS",
]

#: The bytes of a file's header (three doubles: published, created, read) before its content.
HEADER_ROOM = 24
#: A content read from this size on comes in a second request, from a copy at a stage
#: of the read's own, not in the script's answer (see ``READ``). By hand, one thread,
#: Redis 7.0.15: a 1 MiB read took 0.94 ms against 2.21 ms (the server's CPU 0.55
#: against 1.95 ms), 256 KiB 392 against 608 µs; 64 KiB spared the server 42 µs but
#: took 34 µs longer (the second round trip): from 128 KiB on, neither is slower.
STAGED_READS_FROM = 128 * 1024
#: How long a stage, a save's content or a read's copy, outlives a request cut short.
STAGE_EXPIRY_MS = 60_000

#: Helpers a script may start with (:func:`_script` takes the ones it uses). ARGV[1] is
#: always the key prefix, ARGV[2..6] the budget's constants and bound, in this order.
#: Blocks apart by a blank line: each defines a name (or, the first, the constants) and
#: uses only names defined above it.
_PRELUDE = r"""
local P = ARGV[1]
local FILE_OVERHEAD = tonumber(ARGV[2])
local DIR_OVERHEAD = tonumber(ARGV[3])
local RECORD_OVERHEAD = tonumber(ARGV[4])
local RECORD_SHARE = tonumber(ARGV[5])
local REMEMBERED = tonumber(ARGV[6])
local META = P .. 'meta'
local LRU = P .. 'lru'
-- Who runs the script (a process's store), set by the scripts that evict: published with
-- each eviction, so that a listener skips its own process's, which it knows from the answer.
local ORIGIN = ''

-- A number as Redis should store it: Lua would write 1796562600000000 as 1.7965626e+15.
local function int(n)
  return string.format('%d', n)
end

local function incr(field, amount)
  return redis.call('HINCRBY', META, field, int(amount))
end

-- A file's value: its header (three doubles: published, created, read), then its content.
local HEADER = {header_room}

local function pack_file(m, cr, a, content)
  return struct.pack('>ddd', m, cr, a) .. content
end

-- The header of the file at key: published, created, read; nil where there is none.
local function file_times(key)
  local header = redis.call('GETRANGE', key, 0, HEADER - 1)
  if #header < HEADER then return nil end
  local m, cr, a = struct.unpack('>ddd', header)
  return m, cr, a
end

-- The content's length of the file at key, which exists.
local function file_size(key)
  return redis.call('STRLEN', key) - HEADER
end

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- The next publication's stamp: now, or just after the last one (clock) if the clock went back.
local function stamp_after(clock)
  return math.max(now(), clock + 1)
end

local function next_stamp()
  local stamp = stamp_after(num(META, 'clock'))
  redis.call('HSET', META, 'clock', int(stamp))
  return stamp
end

local function parent(name)
  local cut = 0
  local i = 0
  while true do
    i = string.find(name, '/', i + 1, true)
    if not i then break end
    cut = i
  end
  if cut == 0 then return '' end
  return string.sub(name, 1, cut - 1)
end

local function base(name)
  local p = parent(name)
  if p == '' then return name end
  return string.sub(name, #p + 2)
end

local function ensure_root(stamp)
  if redis.call('EXISTS', P .. 'd:') == 0 then
    redis.call('HSET', P .. 'd:', 'c', int(stamp), 'm', int(stamp), 'a', int(stamp))
  end
end

local function touch_dir(name, stamp)
  redis.call('HSET', P .. 'd:' .. name, 'm', int(stamp), 'a', int(stamp))
end

local function use(name)
  redis.call('ZADD', LRU, incr('use', 1), name)
end

-- How far past max_bytes the counters fb, db and rb, with extra more bytes, would go;
-- records count up to their share.
local function excess(fb, db, rb, max_bytes, extra)
  return fb + db + math.min(rb, math.floor(max_bytes / RECORD_SHARE)) + extra - max_bytes
end

local function ancestors_of(name)
  local found = {}
  local i = 0
  while true do
    i = string.find(name, '/', i + 1, true)
    if not i then break end
    table.insert(found, string.sub(name, 1, i - 1))
  end
  return found
end
""".replace("{header_room}", str(HEADER_ROOM))

#: Helpers that only a path past a save's usual one needs: eviction and its records, new
#: and removed directories, the reason for a miss. A script makes them only where it
#: calls ``make_rare()`` (see :func:`_script`). Blocks as in :data:`_PRELUDE`; each uses
#: the prelude's names and the names defined here, and defines only functions.
_RARE = r"""
local function forget_record(name)
  if redis.call('HDEL', P .. 'ev', name) == 1 then
    redis.call('ZREM', P .. 'evq', name)
    incr('rb', -(#name + RECORD_OVERHEAD))
  end
end

local function oldest_record()
  local oldest = redis.call('ZRANGE', P .. 'evq', 0, 0)
  return oldest[1]
end

local function remember(name, size, stamp)
  forget_record(name)
  redis.call('HSET', P .. 'ev', name, int(size) .. ':' .. int(stamp))
  redis.call('ZADD', P .. 'evq', incr('evseq', 1), name)
  incr('rb', #name + RECORD_OVERHEAD)
  if redis.call('ZCARD', P .. 'evq') > REMEMBERED then
    forget_record(oldest_record())
  end
end

local function overflow(max_bytes, extra)
  return excess(num(META, 'fb'), num(META, 'db'), num(META, 'rb'), max_bytes, extra)
end

local function trim_records(max_bytes)
  if max_bytes < 0 then return end
  while num(META, 'fb') + num(META, 'db') + num(META, 'rb') > max_bytes do
    local oldest = oldest_record()
    if not oldest then return end
    forget_record(oldest)
  end
end

local function make_dirs(missing, stamp)
  for _, d in ipairs(missing) do
    redis.call('HSET', P .. 'd:' .. d, 'c', int(stamp), 'm', int(stamp), 'a', int(stamp))
    redis.call('HSET', P .. 'ls:' .. parent(d), base(d), 'd')
    touch_dir(parent(d), stamp)
    incr('db', #d + DIR_OVERHEAD)
    incr('dirs', 1)
  end
end

local function remove_dir(name)
  redis.call('DEL', P .. 'd:' .. name, P .. 'ls:' .. name)
  redis.call('HDEL', P .. 'ls:' .. parent(name), base(name))
  incr('db', -(#name + DIR_OVERHEAD))
  incr('dirs', -1)
end

-- Take the file out of its directory, the recency order and the budget; its size.
local function remove_file(name, stamp)
  local key = P .. 'f:' .. name
  local size = file_size(key)
  redis.call('DEL', key)
  redis.call('HDEL', P .. 'ls:' .. parent(name), base(name))
  touch_dir(parent(name), stamp)
  redis.call('ZREM', LRU, name)
  incr('fb', -(size + #name + FILE_OVERHEAD))
  return size
end

-- Remove the empty directories from name up, except the root and those in keep.
local function prune_from(name, keep)
  while name ~= '' and not keep[name] do
    if redis.call('HLEN', P .. 'ls:' .. name) > 0 then return end
    remove_dir(name)
    name = parent(name)
  end
end

-- Walk the listings from the directory top, depth first: visit(dir, base, child, kind) for
-- every entry (child is its full name, kind 'f' or 'd'); descend where visit returns true.
local function walk(top, visit)
  local stack = {top}
  while #stack > 0 do
    local dir = table.remove(stack)
    local children = redis.call('HGETALL', P .. 'ls:' .. dir)
    for i = 1, #children, 2 do
      local child = children[i]
      if dir ~= '' then child = dir .. '/' .. child end
      if visit(dir, children[i], child, children[i + 1]) then table.insert(stack, child) end
    end
  end
end

-- Delete everything listed below the directory top, whose own keys stay: the file keys, the
-- directories' times and listings. How many files and directories it deleted.
local function delete_below(top)
  local dirs, files = {}, 0
  walk(top, function(_, _, child, kind)
    if kind == 'd' then
      table.insert(dirs, child)
      return true
    end
    redis.call('DEL', P .. 'f:' .. child)
    files = files + 1
    return false
  end)
  for _, dir in ipairs(dirs) do redis.call('DEL', P .. 'd:' .. dir, P .. 'ls:' .. dir) end
  return files + #dirs
end

-- Remove every empty directory not in keep, deepest first, so that parents emptied go too.
local function prune_empty_dirs(keep)
  local dirs = {}
  walk('', function(_, _, child, kind)
    if kind ~= 'd' then return false end
    table.insert(dirs, child)
    return true
  end)
  table.sort(dirs, function(a, b) return #a > #b end)
  for _, dir in ipairs(dirs) do
    if not keep[dir] and redis.call('HLEN', P .. 'ls:' .. dir) == 0 then remove_dir(dir) end
  end
end

-- Evict least recently used files (never the nprotected in protected) until needed bytes fit.
local function make_room(max_bytes, needed, keep, protected, nprotected, stamp)
  local evicted = {}
  while overflow(max_bytes, needed) > 0 do
    local victims = redis.call('ZRANGE', LRU, 0, nprotected)
    local victim = nil
    for _, candidate in ipairs(victims) do
      if not protected[candidate] then victim = candidate break end
    end
    if not victim then
      prune_empty_dirs(keep)
      while overflow(max_bytes, needed) > 0 do
        local oldest = oldest_record()
        if not oldest then break end
        forget_record(oldest)
      end
      break
    end
    local size = remove_file(victim, stamp)
    prune_from(parent(victim), keep)
    remember(victim, size, stamp)
    incr('evictions', 1)
    -- Every process listening shows it (the one that evicted knows it from the answer).
    redis.call('PUBLISH', P .. 'evictions',
               ORIGIN .. '\n' .. victim .. '\n' .. int(size) .. '\n' .. int(stamp))
    table.insert(evicted, victim)
    table.insert(evicted, size)
  end
  return evicted
end

-- For needed more bytes (freed by the files they replace), with the kept bytes of existing
-- directories that eviction never prunes: the refusal to answer, or make room (evicting least
-- recently used files, never those in protected, which count as just used).
-- Returns the evictions, or nil and the refusal.
local function settle(max_bytes, on_full, needed, freed, kept, new_dirs, keep, protected, stamp)
  if kept + needed > max_bytes then
    incr('refusals', 1)
    return nil, {'FULL', 'large', needed, kept, new_dirs}
  end
  if on_full == 'error' then
    incr('refusals', 1)
    local held = num(META, 'fb') + num(META, 'db') + num(META, 'rb')
    return nil, {'FULL', 'error', needed, held - freed, new_dirs}
  end
  local nprotected = 0
  for name, _ in pairs(protected) do
    use(name)
    nprotected = nprotected + 1
  end
  incr('fb', -freed)
  local evicted = make_room(max_bytes, needed, keep, protected, nprotected, stamp)
  incr('fb', freed)
  return evicted, nil
end

-- Why there is no file at name: a directory, a file on the way, or nothing.
local function missing_reason(name, ancestors)
  if redis.call('EXISTS', P .. 'd:' .. name) == 1 or name == '' then return {'EISDIR', name} end
  for _, a in ipairs(ancestors) do
    if redis.call('EXISTS', P .. 'f:' .. a) == 1 then return {'ENOTDIR', a} end
    if redis.call('EXISTS', P .. 'd:' .. a) == 0 then break end
  end
  return {'ENOENT', name}
end
"""

_NAME = re.compile(r"[A-Za-z_]\w*")
_DEFINED = re.compile(r"^local (?:function )?(\w+)", re.MULTILINE)
_COMMENT_OR_TEXT = re.compile(r"--[^\n]*|'[^'\n]*'")


def _names_used(lua: str) -> set[str]:
    """The identifiers in *lua*'s code, outside its comments and string literals."""
    return set(_NAME.findall(_COMMENT_OR_TEXT.sub(" ", lua)))


def _blocks(text: str, *, rare: bool) -> list[tuple[str, frozenset[str], set[str], bool]]:
    """*text*'s blocks, each with the names it defines, the names it uses and *rare*."""
    return [
        (block, frozenset(_DEFINED.findall(block)), _names_used(block), rare)
        for block in text.strip("\n").split("\n\n")
    ]


#: Every block, last first: a block uses only blocks above it.
_BLOCKS = [*reversed(_blocks(_RARE, rare=True)), *reversed(_blocks(_PRELUDE, rare=False))]

#: Where a rare block defines a function: kept there as an assignment to the name declared
#: above ``make_rare()``, so that every script's calls of it find the function once made.
_RARE_DEFINITION = re.compile(r"^local function (\w+)", re.MULTILINE)


def _script(body: str) -> str:
    """*body* after the helpers that it uses, directly or through another helper.

    Redis runs a script's whole text at each call, and each ``local function``
    there makes a closure: a read that carried all 32 helpers for its few took
    50 µs of the server's time, and 43 µs with only those (medians of seven).
    A block uses only blocks above it, so one pass from the bottom finds them all.

    The rare helpers (:data:`_RARE`) are made only when the body calls
    ``make_rare()``, on the paths that need them: a 4 KiB save with room took
    42.6 µs of the server's time, against 45.0 µs with them made at each call
    (``INFO commandstats``, medians of six rounds of 20,000 saves). A body that
    never calls ``make_rare()`` has it called first.
    """
    used = _names_used(body)
    kept: list[str] = []
    rare: list[str] = []
    for block, defined, uses, is_rare in _BLOCKS:
        if used.isdisjoint(defined):
            continue
        (rare if is_rare else kept).append(block)
        used |= uses
    if not rare:
        return "\n\n".join([*reversed(kept), body.lstrip("\n")])
    made = "\n\n".join(_RARE_DEFINITION.sub(r"function \1", block) for block in reversed(rare))
    names = ", ".join(name for block in reversed(rare) for name in _RARE_DEFINITION.findall(block))
    maker = (
        f"local {names}\n\n-- Makes the helpers declared above, once a run (redis_lua._script).\n"
        f"local function make_rare()\n{made}\nmake_rare = function() end\nend"
    )
    if "make_rare()" not in body:
        body = "make_rare()\n" + body.lstrip("\n")
    return "\n\n".join([*reversed(kept), maker, body.lstrip("\n")])


#: Publish one file: claim its name, check the budget, evict, publish; or refuse,
#: changing nothing. ARGV[7..]: max_bytes (-1: none), on_full, name, the file's value
#: (:data:`HEADER_ROOM` bytes of room for its header, then its content), exclusive,
#: avoid_evicted, origin, and the key the value was staged at ('' where it is
#: ARGV[10]; see ``RedisStore.put``): a staged value never enters Lua, which hashes
#: each string it makes whole. The header is written into the room: joining it to
#: the content in Lua copied the content once more, a sixth of a 4 KiB save's time.
PUT = _script(
    r"""
local max_bytes = tonumber(ARGV[7])
local on_full = ARGV[8]
local name = ARGV[9]
local value = ARGV[10]
local exclusive = ARGV[11] == '1'
local avoid_evicted = ARGV[12] == '1'
ORIGIN = ARGV[13]
local stage = ARGV[14]
local size = #value  -- the value's, header room and content
if stage ~= '' then
  -- Staged by the same request, just before: gone only where the server evicted it.
  size = redis.call('STRLEN', stage)
  if size < HEADER then return {'NOSTAGE', name} end
end
local key = P .. 'f:' .. name
local dir = parent(name)
-- What the name is now, from its directory's listing ('f', 'd' or nothing): one call
-- where EXISTS asked twice, a file's key and a directory's.
local leaf = base(name)
local kind = redis.call('HGET', P .. 'ls:' .. dir, leaf)
if kind == 'd' then return {'EISDIR', name} end
local ancestors = ancestors_of(name)
local missing = {}
local keep = {}
for _, a in ipairs(ancestors) do keep[a] = true end
-- A directory exists only with every directory above it: where the parent exists, nothing
-- on the way is missing, or a file.
if dir ~= '' and redis.call('EXISTS', P .. 'd:' .. dir) == 0 then
  for _, a in ipairs(ancestors) do
    -- A directory is never also a file: one EXISTS an ancestor where the directory exists.
    if redis.call('EXISTS', P .. 'd:' .. a) == 0 then
      if redis.call('EXISTS', P .. 'f:' .. a) == 1 then return {'ENOTDIR', a} end
      table.insert(missing, a)
    end
  end
end
-- Listed and stored: a listed name whose key is gone (dropped by hand) is claimed anew.
local stored = 0
if kind == 'f' then stored = redis.call('STRLEN', key) end
local exists = stored > 0
if exists and exclusive then return {'EEXIST', name} end
-- The counters this script reads, in one call.
local meta = redis.call('HMGET', META, 'clock', 'fb', 'db', 'rb', 'use')
local clock, fb, db = tonumber(meta[1] or '0'), tonumber(meta[2] or '0'), tonumber(meta[3] or '0')
local rb, uses = tonumber(meta[4] or '0'), tonumber(meta[5] or '0')
-- Records are charged to rb: where it is 0 there is none, of this name or any other.
if avoid_evicted and not exists and rb > 0 then
  local record = redis.call('HGET', P .. 'ev', name)
  if record then return {'EVICTED', name, record} end
end
local charge = size - HEADER + #name + FILE_OVERHEAD
local needed = charge
for _, d in ipairs(missing) do needed = needed + #d + DIR_OVERHEAD end
local freed = 0
if exists then freed = stored - HEADER + #name + FILE_OVERHEAD end
local evicted = {}
local stamp = stamp_after(clock)
-- From the counters in hand: the common save reads META once and writes it once.
local settled = max_bytes >= 0 and excess(fb, db, rb, max_bytes, needed - freed) > 0
if settled then
  make_rare()
  redis.call('HSET', META, 'clock', int(stamp))
  local kept = 0
  for _, a in ipairs(ancestors) do
    if redis.call('EXISTS', P .. 'd:' .. a) == 1 then kept = kept + #a + DIR_OVERHEAD end
  end
  local protected = {}
  if exists then protected[name] = true end
  local refused
  evicted, refused = settle(max_bytes, on_full, needed, freed, kept, #missing, keep, protected,
                            stamp)
  if refused then return refused end
end
if dir == '' or #missing > 0 then ensure_root(stamp) end  -- else the parent's is there
if #missing > 0 then
  make_rare()
  make_dirs(missing, stamp)
end
local created = stamp
if exists then
  local _, old_created = file_times(key)
  created = old_created or stamp  -- a value too short for a header (made by hand): new
end
local header = struct.pack('>ddd', stamp, created, stamp)  -- before the SET: nothing fails after
if stage == '' then
  redis.call('SET', key, value)
else
  redis.call('RENAME', stage, key)  -- O(1): the staged string becomes the file's
  redis.call('PERSIST', key)  -- the stage's expiry, for a request cut short, goes
end
redis.call('SETRANGE', key, 0, header)
if not exists then redis.call('HSET', P .. 'ls:' .. dir, leaf, 'f') end
touch_dir(dir, stamp)
if settled then
  incr('fb', charge - freed)
  use(name)
else
  uses = uses + 1
  redis.call('HSET', META, 'clock', int(stamp), 'fb', int(fb + charge - freed), 'use', int(uses))
  redis.call('ZADD', LRU, int(uses), name)
end
if settled or rb > 0 then  -- records are charged to rb
  make_rare()
  if rb > 0 then forget_record(name) end
  trim_records(max_bytes)
end
local answer = {'OK', stamp}
for _, item in ipairs(evicted) do table.insert(answer, item) end
return answer
"""
)

#: Read one file, counting the read as a use. ARGV[7]: name; ARGV[8]: '0' to have a
#: large content staged, '1' to have it in the answer whatever its size, '2' the same
#: without counting the read (it asks again for a read whose stage the server dropped,
#: counted by its first request); ARGV[9]: the stage's name, made by the caller (at
#: random: a stage that vanished can never be another read's). A server at its
#: ``maxmemory`` (policy ``noeviction``) refuses a script's first write, and then every
#: other: the read's bookkeeping (its time, its use, the counters) is skipped whole
#: there, and the content comes back in the answer, with the time of the last read
#: kept. A content of :data:`STAGED_READS_FROM` bytes or more is copied to a stage of
#: the read's own (``COPY``, in C) and named in the answer, ``STAGED``, for the caller to
#: take in a second request: Lua would hash each of its bytes (see
#: ``RedisStore.read_with_info``). The copy takes its room on the server until then.
READ = _script(
    r"""
local name = ARGV[7]
local mode = ARGV[8]
local counted = mode ~= '2'
local key = P .. 'f:' .. name

-- The first write of the read: true where done, false where the server refused it for
-- memory (then nothing was written, and no later write would be: skip them all).
local function first_write(...)
  local done = redis.pcall(...)
  if type(done) == 'table' and done.err then
    if string.sub(done.err, 1, 4) == 'OOM ' then return false end
    return error(done)
  end
  return true
end

-- The header and the content apart: cutting the content from the whole value in Lua
-- copied it once more, a sixth of a 4 KiB read's time on the server.
local m, cr, a = file_times(key)
if not m then
  make_rare()
  if counted then first_write('HINCRBY', META, 'misses', 1) end
  return missing_reason(name, ancestors_of(name))
end
local wrote = false
if counted then
  local t = now()
  wrote = first_write('SETRANGE', key, 16, struct.pack('>d', t))
  if wrote then
    use(name)
    incr('hits', 1)
    a = t
  end
end
if wrote and mode == '0' and redis.call('STRLEN', key) - HEADER >= {staged_reads_from} then
  local stage = P .. 'up:r' .. ARGV[9]
  -- COPY is Redis 6.2's (where Lua's hash samples a long string): else the answer holds it.
  if redis.pcall('COPY', key, stage) == 1 then
    redis.call('PEXPIRE', stage, {stage_expiry_ms})  -- for a caller that never takes it
    return {'STAGED', stage, m, cr, a}
  end
end
return {'OK', redis.call('GETRANGE', key, HEADER, -1), m, cr, a}
""".replace("{staged_reads_from}", str(STAGED_READS_FROM)).replace(
        "{stage_expiry_ms}", str(STAGE_EXPIRY_MS)
    )
)

#: Describe a file or a directory without counting a use. ARGV[7]: name.
STAT = _script(
    r"""
local name = ARGV[7]
local key = P .. 'f:' .. name
local m, cr, a = file_times(key)
if m then return {'FILE', file_size(key), m, cr, a} end
local dir = redis.call('HMGET', P .. 'd:' .. name, 'c', 'm', 'a')
if dir[1] then return {'DIR', 0, dir[2], dir[1], dir[3]} end
if name == '' then
  local t = now()
  return {'DIR', 0, t, t, t}
end
return missing_reason(name, ancestors_of(name))
"""
)

#: The children of a directory, from one moment. ARGV[7]: name.
LISTDIR = _script(
    r"""
local name = ARGV[7]
if name ~= '' and redis.call('EXISTS', P .. 'd:' .. name) == 0 then
  if redis.call('EXISTS', P .. 'f:' .. name) == 1 then return {'ENOTDIR', name} end
  return missing_reason(name, ancestors_of(name))
end
local answer = {'OK'}
for _, item in ipairs(redis.call('HGETALL', P .. 'ls:' .. name)) do
  table.insert(answer, item)
end
return answer
"""
)

#: Delete a file, or a directory with everything below it. ARGV[7]: name. Its first
#: write is a ``DEL``, which a server at its ``maxmemory`` allows (and every write after
#: it, so that a script never stops half way): a delete frees memory, even there.
DELETE = _script(
    r"""
local name = ARGV[7]
local stamp = stamp_after(num(META, 'clock'))
if redis.call('EXISTS', P .. 'f:' .. name) == 1 then
  remove_file(name, stamp)
  redis.call('HSET', META, 'clock', int(stamp))
  return {'OK'}
end
if redis.call('EXISTS', P .. 'd:' .. name) == 0 then return {'OK'} end
-- Each directory is found after its parent: removed in the reverse order, children go first.
local order = {name}
walk(name, function(_, _, child, kind)
  if kind == 'd' then
    table.insert(order, child)
    return true
  end
  remove_file(child, stamp)
  return false
end)
for i = #order, 1, -1 do remove_dir(order[i]) end
touch_dir(parent(name), stamp)
redis.call('HSET', META, 'clock', int(stamp))
return {'OK'}
"""
)

#: Empty the namespace: every key under the prefix, found from the root.
CLEAR = _script(
    r"""
delete_below('')
local clock = num(META, 'clock')
redis.call('DEL', P .. 'd:', P .. 'ls:', META, LRU, P .. 'ev', P .. 'evq')
ensure_root(math.max(now(), clock + 1))
return {'OK'}
"""
)

#: The counters and the bytes charged, from one moment.
STATS = _script(
    r"""
local m = redis.call('HMGET', META, 'fb', 'db', 'rb', 'hits', 'misses', 'evictions',
                     'refusals', 'dirs')
return {'OK', redis.call('ZCARD', LRU), m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0',
        m[5] or '0', m[6] or '0', m[7] or '0', m[8] or '0'}
"""
)

#: Every file with its content and times, least recently used first, from one moment.
FILES = _script(
    r"""
local answer = {'OK'}
for _, name in ipairs(redis.call('ZRANGE', LRU, 0, -1)) do
  local value = redis.call('GET', P .. 'f:' .. name)
  local m, cr = struct.unpack('>dd', value)
  table.insert(answer, name)
  table.insert(answer, string.sub(value, HEADER + 1))
  table.insert(answer, m)
  table.insert(answer, cr)
end
return answer
"""
)

#: Every file's name, size and times, without its content, from one moment: what a
#: listing shows, in a reply of a few bytes a file however large the files are.
LISTING = _script(
    r"""
local answer = {'OK'}
for _, name in ipairs(redis.call('ZRANGE', LRU, 0, -1)) do
  local key = P .. 'f:' .. name
  local m, cr = file_times(key)
  if m then
    table.insert(answer, name)
    table.insert(answer, file_size(key))
    table.insert(answer, m)
    table.insert(answer, cr)
  end
end
return answer
"""
)

#: Publish a checked batch, all of it or none. ARGV[7..]: max_bytes, on_full,
#: replace, origin, how many files the caller left out (``keep_what_fits``), the name
#: and size of each of those, then for each file: name, content, created, modified
#: (microseconds). The files left out are remembered as evicted, as the in-process
#: engine remembers them, once the batch is published: their names stay taken.
LOAD = _script(
    r"""
local max_bytes = tonumber(ARGV[7])
local on_full = ARGV[8]
local replace = ARGV[9] == '1'
ORIGIN = ARGV[10]
local left_out = tonumber(ARGV[11])
local first = 12 + 2 * left_out
local names, contents, created, modified = {}, {}, {}, {}
local in_batch = {}
for i = first, #ARGV, 4 do
  table.insert(names, ARGV[i])
  table.insert(contents, ARGV[i + 1])
  table.insert(created, tonumber(ARGV[i + 2]))
  table.insert(modified, tonumber(ARGV[i + 3]))
  in_batch[ARGV[i]] = true
end
local missing, missing_list, keep = {}, {}, {}
local needed, freed = 0, 0
local olds = {}
for i, name in ipairs(names) do
  if redis.call('EXISTS', P .. 'd:' .. name) == 1 then return {'EISDIR', name} end
  for _, a in ipairs(ancestors_of(name)) do
    if redis.call('EXISTS', P .. 'f:' .. a) == 1 then return {'ENOTDIR', a} end
    keep[a] = true
    if redis.call('EXISTS', P .. 'd:' .. a) == 0 and not missing[a] then
      missing[a] = true
      table.insert(missing_list, a)
      needed = needed + #a + DIR_OVERHEAD
    end
  end
  local key = P .. 'f:' .. name
  if redis.call('EXISTS', key) == 1 then
    if not replace then return {'EEXIST', name} end
    olds[name] = true
    freed = freed + file_size(key) + #name + FILE_OVERHEAD
  end
  needed = needed + #contents[i] + #name + FILE_OVERHEAD
end
table.sort(missing_list, function(a, b) return #a < #b end)
-- Kept as the clock only once the load goes ahead: a refused load moves no stamp.
local stamp = stamp_after(num(META, 'clock'))
local evicted = {}
if max_bytes >= 0 and overflow(max_bytes, needed - freed) > 0 then
  local kept = 0
  for a, _ in pairs(keep) do
    if not missing[a] then kept = kept + #a + DIR_OVERHEAD end
  end
  local refused
  evicted, refused = settle(max_bytes, on_full, needed, freed, kept, #missing_list, keep, olds,
                            stamp)
  if refused then return refused end
end
redis.call('HSET', META, 'clock', int(stamp))
ensure_root(stamp)
make_dirs(missing_list, stamp)
for i, name in ipairs(names) do
  local key = P .. 'f:' .. name
  local m = math.min(modified[i], stamp)
  local c = math.min(created[i], stamp)
  if olds[name] then
    if file_times(key) == m then m = m + 1 end
    incr('fb', -(file_size(key) + #name + FILE_OVERHEAD))
  end
  redis.call('SET', key, pack_file(m, c, m, contents[i]))
  redis.call('HSET', P .. 'ls:' .. parent(name), base(name), 'f')
  touch_dir(parent(name), stamp)
  incr('fb', #contents[i] + #name + FILE_OVERHEAD)
  use(name)
  forget_record(name)
end
for i = 12, first - 1, 2 do remember(ARGV[i], tonumber(ARGV[i + 1]), stamp) end
incr('evictions', left_out)
trim_records(max_bytes)
local answer = {'OK', stamp}
for _, item in ipairs(evicted) do table.insert(answer, item) end
return answer
"""
)


#: Count the namespace again from its keys, once per run of the server: ARGV[7] is the
#: server's ``run_id``; where the namespace was last counted in that run, nothing is
#: done. Else it mends what does not agree and notes the run: the bytes charged
#: (``fb``, ``db``, ``rb``) and the directories counted become what the keys hold; a
#: file in the recency order that its directory does not list is listed again (with
#: its directories), or removed where its name is no canonical name or a file or
#: directory of its name is in the way; a listed directory without its key gets one;
#: a file key at a listed directory's name makes it a file, and everything listed
#: below it goes; a listing or a recency entry without its file goes; a remembered eviction is in
#: both ``ev`` and ``evq`` or in neither. It walks the namespace's own structures (its
#: listings from the root and its recency order), never the server's whole keyspace,
#: so it costs O(the namespace) on a server shared with a cache: a file key that
#: neither names (made by hand) is not found. For what no script of ours leaves
#: behind: keys changed by hand, or dropped by a server's eviction policy, or a
#: server restarted from an older snapshot. ARGV[8] ``'1'`` counts even within the
#: run noted. Answers the bytes charged before and after, and how many entries it
#: mended (``-1``: not counted, the run was noted already).
REPAIR = _script(
    r"""
local run = ARGV[7]
if ARGV[8] ~= '1' and redis.call('HGET', META, 'run') == run then return {'OK', 0, 0, -1} end
local stamp = next_stamp()
ensure_root(stamp)
local mended = 0

-- Whether name is one a store could have made: no empty, '.' or '..' segment.
local function canonical(name)
  for segment in string.gmatch(name .. '/', '([^/]*)/') do
    if segment == '' or segment == '.' or segment == '..' then return false end
  end
  return true
end

local function make_dir(name)
  redis.call('HSET', P .. 'd:' .. name, 'c', int(stamp), 'm', int(stamp), 'a', int(stamp))
  mended = mended + 1
end

-- List the file name in its directory, making its missing directories; false where a
-- file is on the way, or a directory has its name.
local function link(name)
  if redis.call('EXISTS', P .. 'd:' .. name) == 1 then return false end
  for _, a in ipairs(ancestors_of(name)) do
    if redis.call('EXISTS', P .. 'f:' .. a) == 1 then return false end
    if redis.call('EXISTS', P .. 'd:' .. a) == 0 then make_dir(a) end
    if redis.call('HGET', P .. 'ls:' .. parent(a), base(a)) ~= 'd' then
      redis.call('HSET', P .. 'ls:' .. parent(a), base(a), 'd')
      mended = mended + 1
    end
  end
  if redis.call('HGET', P .. 'ls:' .. parent(name), base(name)) ~= 'f' then
    redis.call('HSET', P .. 'ls:' .. parent(name), base(name), 'f')
    mended = mended + 1
  end
  return true
end

local before = {num(META, 'fb'), num(META, 'db'), num(META, 'rb')}
-- Every file the recency order holds: without its key it goes; unlisted, it is listed.
for _, name in ipairs(redis.call('ZRANGE', LRU, 0, -1)) do
  local key = P .. 'f:' .. name
  if not canonical(name) or not file_times(key) or not link(name) then
    redis.call('DEL', key)
    redis.call('ZREM', LRU, name)
    mended = mended + 1
  end
end
-- From the root: what the listings hold is the namespace; count it.
local fb, db, dirs = 0, 0, 0
walk('', function(dir, base, child, kind)
  local fine = canonical(base) and not string.find(base, '/', 1, true)
  if fine and file_times(P .. 'f:' .. child) then
    -- A file key is a file, whatever the listing says: listed, charged and in the order.
    if kind ~= 'f' then
      redis.call('HSET', P .. 'ls:' .. dir, base, 'f')
      -- Nothing stays listed below a file (a save there would find its parent and go on);
      -- the files there left the recency order above, each with a file on its way.
      mended = mended + delete_below(child)
      redis.call('DEL', P .. 'd:' .. child, P .. 'ls:' .. child)
      mended = mended + 1
    end
    fb = fb + file_size(P .. 'f:' .. child) + #child + FILE_OVERHEAD
    if not redis.call('ZSCORE', LRU, child) then
      redis.call('ZADD', LRU, 0, child)  -- least recently used: its uses are not known
      mended = mended + 1
    end
    return false
  end
  if fine and kind == 'd' then
    if redis.call('EXISTS', P .. 'd:' .. child) == 0 then make_dir(child) end
    db = db + #child + DIR_OVERHEAD
    dirs = dirs + 1
    return true
  end
  redis.call('HDEL', P .. 'ls:' .. dir, base)
  mended = mended + 1
  return false
end)
local rb = 0
local recorded = {}
for _, name in ipairs(redis.call('HKEYS', P .. 'ev')) do
  recorded[name] = true
  rb = rb + #name + RECORD_OVERHEAD
  if not redis.call('ZSCORE', P .. 'evq', name) then
    redis.call('ZADD', P .. 'evq', incr('evseq', 1), name)
    mended = mended + 1
  end
end
for _, name in ipairs(redis.call('ZRANGE', P .. 'evq', 0, -1)) do
  if not recorded[name] then
    redis.call('ZREM', P .. 'evq', name)
    mended = mended + 1
  end
end
redis.call('HSET', META, 'fb', int(fb), 'db', int(db), 'rb', int(rb), 'dirs', int(dirs),
           'run', run)
return {'OK', before[1] + before[2] + before[3], fb + db + rb, mended}
"""
)
