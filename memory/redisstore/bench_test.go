package redisstore_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
				batch[i] = memory.Turn{Role: memory.RoleUser, Content: "The bakery downstairs opens at seven; the bread is warm by half past.", Tokens: 14}
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
			Metadata: map[string]any{"ref": "s1:3"}}
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

// BenchmarkSummaries reads the 2,500 summaries of a long conversation (a
// level-0 summary per 20 turns of 50,000), as every context assembly does.
// cached: the version is unchanged, so after the first read each read is
// the version script and a copy. uncached: another node's write (a raw
// HINCRBY of sums:ver n, one more round trip) changes the version before
// each read, forcing the full read and decode.
func BenchmarkSummaries(b *testing.B) {
	addr := redistest.StartServer(b)
	ctx := b.Context()
	s, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "bench-sums"})
	require.NoError(b, err)
	defer s.Close()
	raw := redis.NewClient(&redis.Options{Addr: addr})
	defer raw.Close()
	_, err = s.CreateConversation(ctx, memory.Conversation{Tenant: "bench", ID: "c"})
	require.NoError(b, err)
	const n = 2500
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range int64(n) {
		_, err := s.AddSummary(ctx, "bench", "c", memory.Summary{Level: 0, FromSeq: 20*i + 1, ToSeq: 20*i + 20, FromTime: at, ToTime: at,
			Content: strings.Repeat("Odile went sailing with her cousin and talked about building a shed. ", 5), Tokens: 80, Producer: "extractive"})
		require.NoError(b, err)
	}
	read := func(b *testing.B) {
		got, err := s.Summaries(ctx, "bench", "c")
		if err != nil || len(got) != n {
			b.Fatalf("got %d summaries, err %v", len(got), err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		read(b)
		for b.Loop() {
			read(b)
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if err := raw.HIncrBy(ctx, "bench-sums:{bench/c}:sums:ver", "n", 1).Err(); err != nil {
				b.Fatal(err)
			}
			read(b)
		}
	})
}
