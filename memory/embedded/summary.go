package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/longmem/longmem/memory"
)

var _ memory.SummaryStore = (*Store)(nil)

var bucketSums = []byte("sums")

// sumKey is a summary's key in its conversation's sums bucket: level (BE4)
// then FromSeq (BE8), so that key order is (Level, FromSeq) order.
func sumKey(level uint32, from uint64) []byte {
	var k [12]byte
	binary.BigEndian.PutUint32(k[:4], level)
	binary.BigEndian.PutUint64(k[4:], from)
	return k[:]
}

func keyLevel(k []byte) uint32 { return binary.BigEndian.Uint32(k[:4]) }

// prepareSummary validates s and sets the fields the store owns.
func (s *Store) prepareSummary(id string, sm memory.Summary) (memory.Summary, error) {
	if err := memory.ValidateSummary(sm); err != nil {
		return sm, err
	}
	sm.ConversationID = id
	sm.FromTime = sm.FromTime.UTC()
	sm.ToTime = sm.ToTime.UTC()
	sm.CreatedAt = s.cfg.Clock().UTC()
	sm.Stale = false
	sm.TurnSeqs = nil // checked, never stored
	return sm, nil
}

func decodeSummary(raw []byte, id string) (memory.Summary, error) {
	var sm memory.Summary
	if err := json.Unmarshal(raw, &sm); err != nil {
		return sm, fmt.Errorf("embedded: decode summary of %q: %w", id, err)
	}
	sm.ConversationID = id
	return sm, nil
}

func summaryName(sm memory.Summary) string {
	return fmt.Sprintf("level %d from %d", sm.Level, sm.FromSeq)
}

// lastOfLevel returns the summary with the highest FromSeq at level, ok
// false when the level has none. sb may be nil.
func lastOfLevel(sb *bolt.Bucket, level uint32, id string) (last memory.Summary, ok bool, err error) {
	if sb == nil {
		return last, false, nil
	}
	cur := sb.Cursor()
	var k, v []byte
	if level == math.MaxUint32 {
		k, v = cur.Last()
	} else if k, _ = cur.Seek(sumKey(level+1, 0)); k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	if k == nil || keyLevel(k) != level {
		return last, false, nil
	}
	last, err = decodeSummary(v, id)
	return last, err == nil, err
}

// turnsExist fails with memory.ErrConflict when a turn of seqs is gone
// (see memory.Summary.TurnSeqs).
func turnsExist(tx *bolt.Tx, key []byte, id string, seqs []int64) error {
	tb := tx.Bucket(bucketTurns).Bucket(key)
	for _, seq := range seqs {
		if tb == nil || tb.Get(seqKey(seq)) == nil {
			return fmt.Errorf("embedded: summary of %q: turn %d was forgotten since it was read: %w", id, seq, memory.ErrConflict)
		}
	}
	return nil
}

// AddSummary implements memory.SummaryStore. The chain check, the check
// that its turns still exist and the write are one transaction of the
// group commit.
func (s *Store) AddSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	seqs := sm.TurnSeqs
	sm, err := s.prepareSummary(id, sm)
	if err != nil {
		return sm, err
	}
	key := convKey(tenant, id)
	defer s.sums.bump(string(key))
	err = s.write(ctx, func(tx *bolt.Tx) error {
		if _, err := getConv(tx, key, id); err != nil {
			return err
		}
		want := int64(1)
		last, ok, err := lastOfLevel(tx.Bucket(bucketSums).Bucket(key), uint32(sm.Level), id)
		if err != nil {
			return err
		}
		if ok {
			want = last.ToSeq + 1
		}
		if sm.FromSeq != want {
			return fmt.Errorf("embedded: add summary to %q: level %d continues at from_seq %d, not %d: %w",
				id, sm.Level, want, sm.FromSeq, memory.ErrConflict)
		}
		if err := turnsExist(tx, key, id, seqs); err != nil {
			return err
		}
		// Checks done; writes follow.
		sb, err := tx.Bucket(bucketSums).CreateBucketIfNotExists(key)
		if err != nil {
			return err
		}
		return putJSON(sb, sumKey(uint32(sm.Level), uint64(sm.FromSeq)), sm)
	})
	return sm, err
}

// ReplaceSummary implements memory.SummaryStore.
func (s *Store) ReplaceSummary(ctx context.Context, tenant, id string, sm memory.Summary) (memory.Summary, error) {
	seqs := sm.TurnSeqs
	sm, err := s.prepareSummary(id, sm)
	if err != nil {
		return sm, err
	}
	key := convKey(tenant, id)
	skey := sumKey(uint32(sm.Level), uint64(sm.FromSeq))
	defer s.sums.bump(string(key))
	err = s.write(ctx, func(tx *bolt.Tx) error {
		if _, err := getConv(tx, key, id); err != nil {
			return err
		}
		sb := tx.Bucket(bucketSums).Bucket(key)
		var raw []byte
		if sb != nil {
			raw = sb.Get(skey)
		}
		if raw == nil {
			return notFound("summary", summaryName(sm))
		}
		old, err := decodeSummary(raw, id)
		if err != nil {
			return err
		}
		if old.ToSeq != sm.ToSeq {
			return fmt.Errorf("embedded: replace summary of %q: %s ends at to_seq %d, not %d: %w",
				id, summaryName(sm), old.ToSeq, sm.ToSeq, memory.ErrConflict)
		}
		if err := turnsExist(tx, key, id, seqs); err != nil {
			return err
		}
		// Checks done; writes follow.
		return putJSON(sb, skey, sm)
	})
	return sm, err
}

// Summaries implements memory.SummaryStore: ordered by Level, then FromSeq.
func (s *Store) Summaries(ctx context.Context, tenant, id string) ([]memory.Summary, error) {
	key := convKey(tenant, id)
	cached, tok, ok := s.sums.get(string(key))
	if ok {
		return cached, nil
	}
	out := []memory.Summary{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketConv).Get(key) == nil {
			return notFound("conversation", id)
		}
		sb := tx.Bucket(bucketSums).Bucket(key)
		if sb == nil {
			return nil
		}
		return sb.ForEach(func(_, v []byte) error {
			sm, err := decodeSummary(v, id)
			if err != nil {
				return err
			}
			out = append(out, sm)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.sums.put(string(key), tok, out)
	return out, nil
}

// staleMarks returns the summaries of sb that hold seq and are not stale
// yet, re-encoded with Stale set, keyed by their bucket key; it writes
// nothing. Cost: one seek per level.
func staleMarks(sb *bolt.Bucket, seq int64, id string) (keys, vals [][]byte, err error) {
	if sb == nil {
		return nil, nil, nil
	}
	cur := sb.Cursor()
	for k, _ := cur.First(); k != nil; {
		level := keyLevel(k)
		// The summary of this level with the highest FromSeq <= seq.
		// (Seek only positions the cursor: the summary wanted is the one
		// before where it lands, or the last.)
		var ck, cv []byte
		if k, _ := cur.Seek(sumKey(level, uint64(seq)+1)); k == nil {
			ck, cv = cur.Last()
		} else {
			ck, cv = cur.Prev()
		}
		if ck != nil && keyLevel(ck) == level {
			sm, err := decodeSummary(cv, id)
			if err != nil {
				return nil, nil, err
			}
			if sm.FromSeq <= seq && seq <= sm.ToSeq && !sm.Stale {
				sm.Stale = true
				raw, err := json.Marshal(sm)
				if err != nil {
					return nil, nil, err
				}
				keys = append(keys, append([]byte(nil), ck...))
				vals = append(vals, raw)
			}
		}
		if level == math.MaxUint32 {
			break
		}
		k, _ = cur.Seek(sumKey(level+1, 0))
	}
	return keys, vals, nil
}
