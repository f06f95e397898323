package redisstore

// Lua scripts. Each runs atomically on the node that owns the conversation's
// hash slot; every key it touches carries the conversation's hash tag. The
// "#!lua" shebang (Redis 7+) makes Redis refuse a writing script up front
// when it is out of memory, so a script that passed its checks writes all of
// its commands or none.
//
// Domain failures are error replies starting with replyNotFound or
// replyConflict; nothing else is matched on error text.

const (
	replyNotFound = "LMNOTFOUND"
	replyConflict = "LMCONFLICT"
)

// srcCreate stores a new conversation and starts its summary version
// with a fresh random token, so that versions never repeat across a
// delete and re-create of the same id.
// KEYS: conv, sums:ver. ARGV: conversation JSON, version token.
const srcCreate = `#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('LMCONFLICT conversation exists')
end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'seq', '0')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'n', '0')
return 1
`

// luaBumpVersion, prepended to every script that changes summaries, bumps
// the summary version: sums:ver is KEYS[verKey]; ARGV[verToken] is a fresh
// token, used only when the key is missing (a conversation created before
// versions existed), so a version is never reused.
const luaBumpVersion = `
local function bump_version(key, token)
  redis.call('HSETNX', key, 'id', token)
  redis.call('HINCRBY', key, 'n', 1)
end
`

// srcAppend assigns seqs and stores turns, honouring an idempotency key.
//
// KEYS: conv, turns, idems[, idem record].
// ARGV: idempotency TTL in ms, request hash, then one turn JSON per turn,
// each an object without "seq" (the script prepends it).
//
// Reply: {1, first seq} for a fresh append; {0, first seq, members} for a
// replay, members being the turns of the original append still stored.
const srcAppend = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local idem = KEYS[4]
if idem then
  local rec = redis.call('HMGET', idem, 'hash', 'first', 'n')
  if rec[1] then
    if rec[1] ~= ARGV[2] then
      return redis.error_reply('LMCONFLICT idempotency key was used with a different request')
    end
    local first = tonumber(rec[2])
    local last = first + tonumber(rec[3]) - 1
    local got = redis.call('ZRANGE', KEYS[2], rec[2], string.format('%d', last), 'BYSCORE')
    return {0, first, got}
  end
end
local n = #ARGV - 2
local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
local first = last - n + 1
local args = {}
for i = 1, n do
  local seq = string.format('%d', first + i - 1)
  args[2 * i - 1] = seq
  args[2 * i] = '{"seq":' .. seq .. ',' .. string.sub(ARGV[i + 2], 2)
end
redis.call('ZADD', KEYS[2], unpack(args))
if idem then
  local ttl = tonumber(ARGV[1])
  redis.call('HSET', idem, 'hash', ARGV[2], 'first', string.format('%d', first), 'n', string.format('%d', n))
  redis.call('PEXPIRE', idem, ARGV[1])
  -- The idems index scores each record key by its expiry (server clock, ms)
  -- so that records Redis has already expired leave the index here.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%d', now))
  redis.call('ZADD', KEYS[3], string.format('%d', now + ttl), idem)
end
return {1, first}
`

// srcDeleteConv removes a conversation, its turns, its idempotency
// records (named in the idems index, all under the same hash tag) and its
// summaries.
// KEYS: conv, turns, idems, sums, sums:order, sums:stale, sums:ver.
const srcDeleteConv = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local ks = redis.call('ZRANGE', KEYS[3], 0, -1)
for i = 1, #ks, 500 do
  redis.call('DEL', unpack(ks, i, math.min(i + 499, #ks)))
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return 1
`

// srcDeleteTurn forgets one turn and marks stale every summary holding it,
// bumping the summary version when it marked any.
// LastSeq is untouched, so its seq is never reused.
//
// KEYS: conv, turns, sums:order, sums:stale, sums:ver.
// ARGV: seq; seq+1 zero-padded to 19 digits ("" for none); version token.
//
// Summary names are "level:from:to" (see the package comment). For each
// level present, the summary holding seq can only be the one with the
// highest FromSeq <= seq: the last name below "level:" .. ARGV[2]. It holds
// seq when its ToSeq >= seq (compared as Lua numbers: exact below 2^53).
const srcDeleteTurn = `#!lua` + luaBumpVersion + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
if redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1]) == 0 then
  return redis.error_reply('LMNOTFOUND turn')
end
if ARGV[2] == '' then
  return 1
end
local seq = tonumber(ARGV[1])
local lo = '-'
local marked = 0
while true do
  local first = redis.call('ZRANGE', KEYS[3], lo, '+', 'BYLEX', 'LIMIT', 0, 1)
  if #first == 0 then
    break
  end
  local level = string.sub(first[1], 1, 11)
  local cover = redis.call('ZRANGE', KEYS[3], '(' .. level .. ARGV[2], '[' .. level, 'BYLEX', 'REV', 'LIMIT', 0, 1)
  if #cover == 1 and tonumber(string.sub(cover[1], 32)) >= seq then
    marked = marked + redis.call('SADD', KEYS[4], cover[1])
  end
  lo = '(' .. level .. ';'
end
if marked > 0 then
  bump_version(KEYS[5], ARGV[3])
end
return 1
`

// srcAddSummary appends a summary to the chain of its level and bumps the
// summary version.
//
// KEYS: conv, sums, sums:order, sums:ver, turns.
// ARGV: level prefix "LLLLLLLLLL:", FromSeq-1 zero-padded to 19 digits,
// the summary's name, its JSON, version token, then the seqs of the turns
// it was written from, each of which must still be in turns.
//
// The chain's tail is the last name of the level; the new summary must
// start right after its ToSeq (at 1 on an empty level): the name's to part
// must equal ARGV[2], compared as text.
const srcAddSummary = `#!lua` + luaBumpVersion + luaForgotten + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local tail = redis.call('ZRANGE', KEYS[3], '(' .. ARGV[1] .. ';', '[' .. ARGV[1], 'BYLEX', 'REV', 'LIMIT', 0, 1)
local prev = string.rep('0', 19)
if #tail == 1 then
  prev = string.sub(tail[1], 32)
end
if prev ~= ARGV[2] then
  local function trim(digits) return (string.gsub(digits, '^0+(%d)', '%1')) end
  return redis.error_reply('LMCONFLICT summary chain of level ' .. trim(string.sub(ARGV[1], 1, 10)) ..
    ' continues after to_seq ' .. trim(prev))
end
local gone = forgotten(KEYS[5], 6)
if gone then
  return redis.error_reply('LMCONFLICT turn ' .. gone .. ' was forgotten since it was read for the summary')
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
bump_version(KEYS[4], ARGV[5])
return 1
`

// luaForgotten returns the first of ARGV[first..] that is no seq in the
// turns sorted set key (scored by seq), or nil.
const luaForgotten = `
local function forgotten(key, first)
  for i = first, #ARGV do
    if redis.call('ZCOUNT', key, ARGV[i], ARGV[i]) == 0 then
      return ARGV[i]
    end
  end
  return nil
end
`

// srcReplaceSummary rewrites a summary of the same level and FromSeq,
// clears its Stale mark and bumps the summary version.
//
// KEYS: conv, sums, sums:order, sums:stale, sums:ver, turns.
// ARGV: name prefix "LLLLLLLLLL:FFFFFFFFFFFFFFFFFFF:", the summary's full
// name, its JSON, version token, then the seqs of the turns it was
// written from, each of which must still be in turns.
const srcReplaceSummary = `#!lua` + luaBumpVersion + luaForgotten + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local got = redis.call('ZRANGE', KEYS[3], '[' .. ARGV[1], '(' .. ARGV[1] .. ';', 'BYLEX', 'LIMIT', 0, 1)
if #got == 0 then
  return redis.error_reply('LMNOTFOUND summary')
end
if got[1] ~= ARGV[2] then
  return redis.error_reply('LMCONFLICT summary ends at to_seq ' .. (string.gsub(string.sub(got[1], 32), '^0+(%d)', '%1')))
end
local gone = forgotten(KEYS[6], 5)
if gone then
  return redis.error_reply('LMCONFLICT turn ' .. gone .. ' was forgotten since it was read for the summary')
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[2])
bump_version(KEYS[5], ARGV[4])
return 1
`

// luaVersion reads the summary version as "token:count", or "" when the
// conversation has none (created before versions existed, and no summary
// write since): such a read is not cached.
const luaVersion = `
local function version(key)
  local v = redis.call('HMGET', key, 'id', 'n')
  if not v[1] then
    return ''
  end
  return v[1] .. ':' .. (v[2] or '0')
end
`

// srcSummaryVersion reads the summary version (see luaVersion).
// KEYS: conv, sums:ver.
const srcSummaryVersion = `#!lua flags=no-writes` + luaVersion + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
return version(KEYS[2])
`

// srcSummaries reads every summary in name order (Level, then FromSeq),
// and the version they are at.
// KEYS: conv, sums, sums:order, sums:stale, sums:ver.
// Reply: {version, a flat list of JSON, stale flag (1 or 0) pairs}.
const srcSummaries = `#!lua flags=no-writes` + luaVersion + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local names = redis.call('ZRANGE', KEYS[3], 0, -1)
local out = {}
for i, name in ipairs(names) do
  out[2 * i - 1] = redis.call('HGET', KEYS[2], name)
  out[2 * i] = redis.call('SISMEMBER', KEYS[4], name)
end
return {version(KEYS[5]), out}
`

// srcTurns reads turns with seq > ARGV[1], at most ARGV[2] of them (0:
// all), ascending.
// KEYS: conv, turns.
const srcTurns = `#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local limit = tonumber(ARGV[2])
if limit > 0 then
  return redis.call('ZRANGE', KEYS[2], '(' .. ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, limit)
end
return redis.call('ZRANGE', KEYS[2], '(' .. ARGV[1], '+inf', 'BYSCORE')
`

// srcLastTurns reads the ARGV[1] turns with the highest seqs, descending.
// KEYS: conv, turns.
const srcLastTurns = `#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local n = tonumber(ARGV[1])
if n <= 0 then
  return {}
end
return redis.call('ZRANGE', KEYS[2], 0, n - 1, 'REV')
`

// srcGetTurn reads the turn with seq ARGV[1].
// KEYS: conv, turns.
const srcGetTurn = `#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local got = redis.call('ZRANGE', KEYS[2], ARGV[1], ARGV[1], 'BYSCORE')
if #got == 0 then
  return redis.error_reply('LMNOTFOUND turn')
end
return got[1]
`
