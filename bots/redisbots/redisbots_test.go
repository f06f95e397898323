package redisbots_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/bottest"
	"github.com/longmem/longmem/bots/redisbots"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// open returns stores on one deployment, each with a fresh key prefix.
func opener(addrs []string, cluster bool) func(t *testing.T) (*redisbots.Store, string) {
	var n atomic.Int64
	return func(t *testing.T) (*redisbots.Store, string) {
		prefix := fmt.Sprintf("t%d", n.Add(1))
		s, err := redisbots.New(t.Context(), redisbots.Config{Addrs: addrs, Cluster: cluster, KeyPrefix: prefix})
		require.NoError(t, err)
		return s, prefix
	}
}

func TestSingle(t *testing.T) {
	addr := redistest.StartServer(t)
	open := opener([]string{addr}, false)
	bottest.Run(t, func(t *testing.T) bots.Store { s, _ := open(t); return s })

	t.Run("DeleteRemovesAllKeys", func(t *testing.T) {
		ctx := t.Context()
		s, prefix := open(t)
		defer s.Close()
		_, err := s.Create(ctx, "acme", bots.Bot{ID: "aria", Name: "Aria"}, "a")
		require.NoError(t, err)
		_, err = s.Update(ctx, "acme", bots.Bot{ID: "aria", Name: "Aria 2"}, 0, "a")
		require.NoError(t, err)
		raw := redis.NewClient(&redis.Options{Addr: addr})
		defer raw.Close()
		keys, err := raw.Keys(ctx, prefix+":*").Result()
		require.NoError(t, err)
		require.ElementsMatch(t, []string{prefix + ":bot:{acme/aria}:meta", prefix + ":bot:{acme/aria}:versions", prefix + ":tenant:{acme}:bots"}, keys)
		require.NoError(t, s.Delete(ctx, "acme", "aria"))
		keys, err = raw.Keys(ctx, prefix+":*").Result()
		require.NoError(t, err)
		require.Empty(t, keys)
	})

	t.Run("ListSkipsDanglingIndexEntries", func(t *testing.T) {
		ctx := t.Context()
		s, prefix := open(t)
		defer s.Close()
		for _, id := range []string{"a", "b", "c"} {
			_, err := s.Create(ctx, "acme", bots.Bot{ID: id, Name: id}, "x")
			require.NoError(t, err)
		}
		// A crash between the delete script and the index update leaves
		// the id in the index.
		raw := redis.NewClient(&redis.Options{Addr: addr})
		defer raw.Close()
		require.NoError(t, raw.Del(ctx, prefix+":bot:{acme/b}:meta", prefix+":bot:{acme/b}:versions").Err())
		list, err := s.List(ctx, bots.ListOptions{Tenant: "acme", Limit: 2})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "a", list[0].ID)
		require.Equal(t, "c", list[1].ID)
	})
}

func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	open := opener(addrs[:1], true)
	bottest.Run(t, func(t *testing.T) bots.Store { s, _ := open(t); return s })
}

// TestOutageIsUnavailable: with its redis-server killed, the bot store's
// errors read as memory.ErrUnavailable (the API's 503), not as failures of
// unknown kind.
func TestOutageIsUnavailable(t *testing.T) {
	srv := redistest.StartProcess(t)
	s, err := redisbots.New(t.Context(), redisbots.Config{Addrs: []string{srv.Addr}, KeyPrefix: "o"})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Create(t.Context(), "acme", bots.Bot{ID: "aria", Name: "Aria"}, "a")
	require.NoError(t, err)
	srv.Signal(t, syscall.SIGKILL)
	_, err = s.Get(t.Context(), "acme", "aria")
	require.ErrorIs(t, err, memory.ErrUnavailable)
	_, err = s.Create(t.Context(), "acme", bots.Bot{ID: "ivo", Name: "Ivo"}, "a")
	require.ErrorIs(t, err, memory.ErrUnavailable)
	_, err = s.List(t.Context(), bots.ListOptions{Tenant: "acme"})
	require.ErrorIs(t, err, memory.ErrUnavailable)
}
