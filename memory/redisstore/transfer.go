package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/longmem/longmem/memory"
)

var _ memory.TurnImporter = (*Store)(nil)

// srcImport stores turns with their seqs, skipping those at or below the
// conversation's last seq, then raises the last seq to ARGV[1] when higher.
//
// KEYS: conv, turns. ARGV: last seq, then per turn its seq and its member
// (the turn JSON with "seq" first, as srcAppend stores it), seqs ascending.
// Reply: how many turns were stored.
const srcImport = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('LMNOTFOUND conversation')
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local top = cur
local args = {}
for i = 2, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > cur then
    args[#args + 1] = ARGV[i]
    args[#args + 1] = ARGV[i + 1]
    top = seq
  end
end
if #args > 0 then
  redis.call('ZADD', KEYS[2], unpack(args))
end
local last = tonumber(ARGV[1])
if last > top then
  top = last
end
redis.call('HSET', KEYS[1], 'seq', string.format('%d', top))
return #args / 2
`

var scriptImport = newScript(srcImport)

// ImportTurns implements memory.TurnImporter with one script, atomic on
// the conversation's node.
func (s *Store) ImportTurns(ctx context.Context, tenant, id string, turns []memory.Turn, lastSeq int64) (int, error) {
	if err := memory.ValidateImport(turns, lastSeq); err != nil {
		return 0, err
	}
	args := make([]any, 0, 1+2*len(turns))
	args = append(args, strconv.FormatInt(lastSeq, 10))
	for i, t := range turns {
		raw, err := json.Marshal(storedTurn{Role: t.Role, Name: t.Name, Content: t.Content, CreatedAt: t.CreatedAt.UTC(), Tokens: t.Tokens, Metadata: t.Metadata})
		if err != nil {
			return 0, fmt.Errorf("redisstore: import %q: encode turns[%d]: %w", id, i, err)
		}
		seq := strconv.FormatInt(t.Seq, 10)
		args = append(args, seq, `{"seq":`+seq+`,`+string(raw[1:]))
	}
	k := s.keys(tenant, id)
	res, err := s.run(ctx, scriptImport, []string{k.conv, k.turns}, args...)
	if err != nil {
		return 0, fail("import", id, err)
	}
	n, ok := res.(int64)
	if !ok {
		return 0, fmt.Errorf("redisstore: import %q: unexpected reply %v", id, res)
	}
	return int(n), nil
}
