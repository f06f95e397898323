package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/longmem/longmem/memory"
)

var _ memory.UserDeleter = (*Store)(nil)

// DeleteUser implements memory.UserDeleter: one write transaction finds the
// tenant's conversations of the user and removes each as
// DeleteConversation does, so a crash leaves all or none of them.
func (s *Store) DeleteUser(ctx context.Context, tenant, userID string) ([]string, error) {
	if userID == "" {
		return nil, memory.Invalid("user_id", "must not be empty")
	}
	prefix := convKey(tenant, "")
	var ids []string
	err := s.write(ctx, func(tx *bolt.Tx) error {
		ids = nil
		var keys [][]byte
		cur := tx.Bucket(bucketConv).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var c memory.Conversation
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("embedded: decode conversation %q: %w", k[len(prefix):], err)
			}
			if c.UserID == userID {
				keys = append(keys, bytes.Clone(k))
				ids = append(ids, string(k[len(prefix):]))
			}
		}
		for _, key := range keys {
			for _, name := range [][]byte{bucketTurns, bucketIdem, bucketSums} {
				if err := tx.Bucket(name).DeleteBucket(key); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
					return err
				}
			}
			if err := tx.Bucket(bucketConv).Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range ids {
		s.sums.bump(string(convKey(tenant, id)))
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: delete user %q: %w", userID, err)
	}
	return ids, nil
}
