package redisstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
	"github.com/longmem/longmem/memory/storetest"
)

// TestDeleteUserLeavesNothing deletes a user on a real redis-server and
// then reads every key of the store's prefix, whatever its type: nothing
// of the user's conversations is left (keys, tenant index entries, turns,
// summaries, idempotency records), while the other user's and the other
// tenant's data are.
func TestDeleteUserLeavesNothing(t *testing.T) {
	b := newBackend(t, []string{redistest.StartServer(t)}, false)
	s, prefix := b.open(t, redisstore.Config{})
	defer s.Close()
	storetest.UserFixture(t, s)
	_, err := s.DeleteUser(t.Context(), "acme", "alice")
	require.NoError(t, err)

	ctx := t.Context()
	keys, err := b.raw.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k + "\n")
		typ, err := b.raw.Type(ctx, k).Result()
		require.NoError(t, err)
		var v any
		switch typ {
		case "string":
			v, err = b.raw.Get(ctx, k).Result()
		case "hash":
			v, err = b.raw.HGetAll(ctx, k).Result()
		case "list":
			v, err = b.raw.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = b.raw.SMembers(ctx, k).Result()
		case "zset":
			v, err = b.raw.ZRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = b.raw.XRange(ctx, k, "-", "+").Result()
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
		if err != nil && err != redis.Nil {
			require.NoError(t, err)
		}
		fmt.Fprintf(&sb, "%q\n", v)
	}
	all := sb.String()
	for _, gone := range []string{"/u1}", "/u2}", `"u1"`, `"u2"`, "alice-secret-u1", "alice-secret-u2"} {
		require.NotContains(t, all, gone, all)
	}
	for _, kept := range []string{"/b1}", `"b1"`, "alice-secret-b1", "/u3}", "alice-secret-u3"} {
		require.Contains(t, all, kept)
	}
}
