package embedded

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/longmem/longmem/memory"
)

var _ memory.TurnImporter = (*Store)(nil)

// ImportTurns implements memory.TurnImporter in one write transaction.
func (s *Store) ImportTurns(ctx context.Context, tenant, id string, turns []memory.Turn, lastSeq int64) (int, error) {
	if err := memory.ValidateImport(turns, lastSeq); err != nil {
		return 0, err
	}
	key := convKey(tenant, id)
	n := 0
	err := s.write(ctx, func(tx *bolt.Tx) error {
		n = 0
		c, err := getConv(tx, key, id)
		if err != nil {
			return err
		}
		tb, err := tx.Bucket(bucketTurns).CreateBucketIfNotExists(key)
		if err != nil {
			return err
		}
		top := c.LastSeq
		for _, t := range turns {
			if t.Seq <= c.LastSeq {
				continue
			}
			t.ConversationID = id
			t.CreatedAt = t.CreatedAt.UTC()
			if err := putJSON(tb, seqKey(t.Seq), t); err != nil {
				return err
			}
			top = t.Seq
			n++
		}
		c.LastSeq = max(top, lastSeq)
		return putJSON(tx.Bucket(bucketConv), key, c)
	})
	if err != nil {
		return 0, fmt.Errorf("embedded: import %q: %w", id, err)
	}
	return n, nil
}
