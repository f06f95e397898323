package redisstore

import (
	"context"
	"encoding/json"
	"fmt"

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
	doc, err := json.Marshal(sm)
	if err != nil {
		return sm, nil, fmt.Errorf("redisstore: %s %q: encode summary: %w", op, id, err)
	}
	return sm, doc, nil
}

// AddSummary implements memory.SummaryStore. One script checks the
// conversation and the chain of the level and stores the summary.
func (s *Store) AddSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	sm, doc, err := s.prepareSummary("add summary", id, sm)
	if err != nil {
		return sm, err
	}
	k := s.keys(tenant, id)
	_, err = s.run(ctx, scriptAddSum, []string{k.conv, k.sums, k.sumOrder},
		sumLevelPrefix(sm.Level), fmt.Sprintf("%019d", sm.FromSeq-1), sumName(sm.Level, sm.FromSeq, sm.ToSeq), doc)
	if err != nil {
		return sm, fail(fmt.Sprintf("add summary level %d from %d to", sm.Level, sm.FromSeq), id, err)
	}
	return sm, nil
}

// ReplaceSummary implements memory.SummaryStore. One script finds the
// summary of the same Level and FromSeq, checks its ToSeq, rewrites it and
// clears its Stale mark.
func (s *Store) ReplaceSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	sm, doc, err := s.prepareSummary("replace summary", id, sm)
	if err != nil {
		return sm, err
	}
	k := s.keys(tenant, id)
	_, err = s.run(ctx, scriptReplaceSum, []string{k.conv, k.sums, k.sumOrder, k.sumStale},
		sumPrefix(sm.Level, sm.FromSeq), sumName(sm.Level, sm.FromSeq, sm.ToSeq), doc)
	if err != nil {
		return sm, fail(fmt.Sprintf("replace summary level %d from %d of", sm.Level, sm.FromSeq), id, err)
	}
	return sm, nil
}

// Summaries implements memory.SummaryStore: ordered by Level, then FromSeq.
func (s *Store) Summaries(ctx context.Context, tenant, id string) ([]memory.Summary, error) {
	k := s.keys(tenant, id)
	res, err := s.run(ctx, scriptSummaries, []string{k.conv, k.sums, k.sumOrder, k.sumStale})
	if err != nil {
		return nil, fail("summaries", id, err)
	}
	reply, ok := res.([]any)
	if !ok || len(reply)%2 != 0 {
		return nil, fmt.Errorf("redisstore: summaries %q: unexpected reply %T", id, res)
	}
	out := make([]memory.Summary, 0, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		doc, ok := reply[i].(string)
		if !ok {
			return nil, fmt.Errorf("redisstore: summaries %q: unexpected summary reply %T", id, reply[i])
		}
		var sm memory.Summary
		if err := json.Unmarshal([]byte(doc), &sm); err != nil {
			return nil, fmt.Errorf("redisstore: summaries %q: decode summary: %w", id, err)
		}
		stale, _ := reply[i+1].(int64)
		sm.ConversationID = id
		sm.Stale = stale == 1
		out = append(out, sm)
	}
	return out, nil
}
