package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/longmem/longmem/memory"
)

var _ memory.SummaryStore = (*Store)(nil)

// sumLevelPrefix, sumPrefix and sumName build a summary's name (see the
// package comment): Level, FromSeq and ToSeq zero-padded to 10, 19 and 19
// digits. Valid summaries have 0 <= Level <= MaxInt32 and 1 <= FromSeq <=
// ToSeq, so the widths always hold.
func sumLevelPrefix(level int) string { return fmt.Sprintf("%010d:", level) }

func sumPrefix(level int, from int64) string { return fmt.Sprintf("%010d:%019d:", level, from) }

func sumName(level int, from, to int64) string {
	return fmt.Sprintf("%010d:%019d:%019d", level, from, to)
}

// prepareSummary validates sm, sets the fields the store owns and encodes
// it. Stale is kept in the sums:stale set, never in the JSON.
func (s *Store) prepareSummary(op, id string, sm memory.Summary) (memory.Summary, []byte, error) {
	if err := memory.ValidateSummary(sm); err != nil {
		return sm, nil, err
	}
	sm.ConversationID = id
	sm.FromTime = sm.FromTime.UTC()
	sm.ToTime = sm.ToTime.UTC()
	sm.CreatedAt = s.cfg.Clock().UTC()
	sm.Stale = false
	sm.TurnSeqs = nil // checked by the script, never stored
	doc, err := json.Marshal(sm)
	if err != nil {
		return sm, nil, fmt.Errorf("redisstore: %s %q: encode summary: %w", op, id, err)
	}
	return sm, doc, nil
}

// seqArgs are the script arguments of memory.Summary.TurnSeqs.
func seqArgs(seqs []int64) []any {
	out := make([]any, len(seqs))
	for i, seq := range seqs {
		out[i] = strconv.FormatInt(seq, 10)
	}
	return out
}

// AddSummary implements memory.SummaryStore. One script checks the
// conversation, the chain of the level and that the summary's turns still
// exist, and stores the summary.
func (s *Store) AddSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	seqs := sm.TurnSeqs
	sm, doc, err := s.prepareSummary("add summary", id, sm)
	if err != nil {
		return sm, err
	}
	k := s.keys(tenant, id)
	args := append([]any{sumLevelPrefix(sm.Level), fmt.Sprintf("%019d", sm.FromSeq-1), sumName(sm.Level, sm.FromSeq, sm.ToSeq), doc, versionToken()},
		seqArgs(seqs)...)
	_, err = s.run(ctx, scriptAddSum, []string{k.conv, k.sums, k.sumOrder, k.sumVer, k.turns}, args...)
	if err != nil {
		return sm, fail(fmt.Sprintf("add summary level %d from %d to", sm.Level, sm.FromSeq), id, err)
	}
	return sm, nil
}

// ReplaceSummary implements memory.SummaryStore. One script finds the
// summary of the same Level and FromSeq, checks its ToSeq, rewrites it and
// clears its Stale mark.
func (s *Store) ReplaceSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	seqs := sm.TurnSeqs
	sm, doc, err := s.prepareSummary("replace summary", id, sm)
	if err != nil {
		return sm, err
	}
	k := s.keys(tenant, id)
	args := append([]any{sumPrefix(sm.Level, sm.FromSeq), sumName(sm.Level, sm.FromSeq, sm.ToSeq), doc, versionToken()},
		seqArgs(seqs)...)
	_, err = s.run(ctx, scriptReplaceSum, []string{k.conv, k.sums, k.sumOrder, k.sumStale, k.sumVer, k.turns}, args...)
	if err != nil {
		return sm, fail(fmt.Sprintf("replace summary level %d from %d of", sm.Level, sm.FromSeq), id, err)
	}
	return sm, nil
}

// Summaries implements memory.SummaryStore: ordered by Level, then FromSeq.
// One small script reads the conversation's summary version; when this
// store's cache holds that version, the result is a copy of it. Otherwise
// the full read returns the summaries with their version, and fills the
// cache (see the package comment).
func (s *Store) Summaries(ctx context.Context, tenant, id string) ([]memory.Summary, error) {
	k := s.keys(tenant, id)
	res, err := s.run(ctx, scriptSumVersion, []string{k.conv, k.sumVer})
	if err != nil {
		return nil, fail("summaries", id, err)
	}
	ver, ok := res.(string)
	if !ok {
		return nil, fmt.Errorf("redisstore: summaries %q: unexpected version reply %T", id, res)
	}
	if cached, ok := s.sums.get(k.base, ver); ok {
		return cached, nil
	}
	out, ver, err := s.readSummaries(ctx, k, id)
	if err != nil {
		return nil, err
	}
	s.sums.put(k.base, ver, out)
	return out, nil
}

// readSummaries reads and decodes every summary of a conversation, and
// the version they are at, in one script.
func (s *Store) readSummaries(ctx context.Context, k convKeys, id string) ([]memory.Summary, string, error) {
	res, err := s.run(ctx, scriptSummaries, []string{k.conv, k.sums, k.sumOrder, k.sumStale, k.sumVer})
	if err != nil {
		return nil, "", fail("summaries", id, err)
	}
	top, ok := res.([]any)
	if !ok || len(top) != 2 {
		return nil, "", fmt.Errorf("redisstore: summaries %q: unexpected reply %T", id, res)
	}
	ver, ok1 := top[0].(string)
	reply, ok2 := top[1].([]any)
	if !ok1 || !ok2 || len(reply)%2 != 0 {
		return nil, "", fmt.Errorf("redisstore: summaries %q: unexpected reply %T, %T", id, top[0], top[1])
	}
	out := make([]memory.Summary, 0, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		doc, ok := reply[i].(string)
		if !ok {
			return nil, "", fmt.Errorf("redisstore: summaries %q: unexpected summary reply %T", id, reply[i])
		}
		var sm memory.Summary
		if err := json.Unmarshal([]byte(doc), &sm); err != nil {
			return nil, "", fmt.Errorf("redisstore: summaries %q: decode summary: %w", id, err)
		}
		stale, _ := reply[i+1].(int64)
		sm.ConversationID = id
		sm.Stale = stale == 1
		out = append(out, sm)
	}
	return out, ver, nil
}
