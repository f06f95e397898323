package redisstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// durableArgs make every acknowledged write fsynced to the AOF first.
var durableArgs = []string{"--appendonly", "yes", "--appendfsync", "always"}

// BenchmarkAppend measures durable appends (AOF, appendfsync always) to a
// real redis-server. Each writer appends to its own conversation; b.N is the
// number of appends, each of `batch` turns.
func BenchmarkAppend(b *testing.B) {
	addr := redistest.StartServer(b, durableArgs...)
	for _, bc := range []struct{ batch, writers int }{{1, 1}, {1, 16}, {100, 1}} {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", bc.batch, bc.writers), func(b *testing.B) {
			s, err := redisstore.New(b.Context(), redisstore.Config{Addrs: []string{addr}, KeyPrefix: fmt.Sprintf("bench-append-%d-%d-%d", bc.batch, bc.writers, b.N)})
			require.NoError(b, err)
			defer s.Close()
			batch := make([]memory.Turn, bc.batch)
			for i := range batch {
				batch[i] = memory.Turn{Role: memory.RoleUser, Content: "I went hiking with my sister last weekend; the weather was perfect.", Tokens: 14}
			}
			for w := range bc.writers {
				_, err := s.CreateConversation(b.Context(), memory.Conversation{Tenant: "bench", ID: fmt.Sprint("w", w)})
				require.NoError(b, err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range bc.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprint("w", w)
					for next.Add(1) <= int64(b.N) {
						if _, err := s.AppendTurns(b.Context(), "bench", id, batch, memory.AppendOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			turns := b.N * bc.batch
			b.ReportMetric(float64(turns)/b.Elapsed().Seconds(), "turns/s")
		})
	}
}

// BenchmarkListTurns1000 reads all 1000 turns of a conversation.
func BenchmarkListTurns1000(b *testing.B) {
	addr := redistest.StartServer(b)
	s, err := redisstore.New(b.Context(), redisstore.Config{Addrs: []string{addr}})
	require.NoError(b, err)
	defer s.Close()
	ctx := b.Context()
	_, err = s.CreateConversation(ctx, memory.Conversation{Tenant: "bench", ID: "c"})
	require.NoError(b, err)
	batch := make([]memory.Turn, 100)
	for i := range batch {
		batch[i] = memory.Turn{Role: memory.RoleAssistant, Content: "Sure — the trail starts behind the old mill; bring water.", Tokens: 13,
			Metadata: map[string]any{"dia_id": "D1:3"}}
	}
	for range 10 {
		_, err := s.AppendTurns(ctx, "bench", "c", batch, memory.AppendOptions{})
		require.NoError(b, err)
	}
	b.ResetTimer()
	for b.Loop() {
		turns, err := s.Turns(ctx, "bench", "c", 0, 0)
		if err != nil || len(turns) != 1000 {
			b.Fatalf("got %d turns, err %v", len(turns), err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "turns/s")
}
