package embedded

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/longmem/longmem/memory/storetest"
)

// TestDeleteUserLeavesNothing deletes a user and then walks every bucket,
// key and value of the store's file: nothing of the user's conversations
// is left (their ids, turns, summaries, idempotency records), while the
// other user's and the other tenant's data are.
func TestDeleteUserLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	storetest.UserFixture(t, s)
	_, err := s.DeleteUser(t.Context(), "acme", "alice")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := bolt.Open(filepath.Join(dir, "longmem.db"), 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	var found [][]byte
	err = db.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket) error
		walk = func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				found = append(found, k)
				if v == nil {
					return walk(b.Bucket(k))
				}
				found = append(found, v)
				return nil
			})
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			found = append(found, name)
			return walk(b)
		})
	})
	require.NoError(t, err)
	all := bytes.Join(found, []byte("\n"))
	for _, gone := range []string{"acme\x00u1", "acme\x00u2", "alice-secret-u1", "alice-secret-u2"} {
		require.NotContains(t, string(all), gone)
	}
	for _, kept := range []string{"acme\x00b1", "alice-secret-b1", "other\x00u3", "alice-secret-u3"} {
		require.Contains(t, string(all), kept)
	}
}
