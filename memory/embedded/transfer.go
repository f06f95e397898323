package embedded

import (
	"context"
	"fmt"
	"io"

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

var _ memory.Backuper = (*Store)(nil)

// Backup implements memory.Backuper: bbolt's consistent read transaction
// writes the whole file while writers go on (they never wait for it; the
// pages it reads are not reused until it ends). ctx is checked between
// writes to w.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("embedded: backup: %w", err)
	}
	return n, nil
}

// ctxWriter fails writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
