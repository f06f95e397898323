package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/goleak"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	require.NoError(t, err)
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store { return open(t, Config{}) })
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	_, err := s.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(t, err)
	_, err = s.AppendTurns(ctx, "", "c", []memory.Turn{{Role: memory.RoleUser, Content: "hi"}}, memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"})
	require.NoError(t, err)
	_, err = s.AddSummary(ctx, "", "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 1, Content: "greeting"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	s = open(t, Config{Dir: dir})
	defer s.Close()
	got, err := s.AppendTurns(ctx, "", "c", []memory.Turn{{Role: memory.RoleUser, Content: "hi"}}, memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"})
	require.NoError(t, err)
	require.EqualValues(t, 1, got[0].Seq, "idempotency survives a restart")
	next, err := s.AppendTurns(ctx, "", "c", []memory.Turn{{Role: memory.RoleUser, Content: "again"}}, memory.AppendOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 2, next[0].Seq)
	sums, err := s.Summaries(ctx, "", "c")
	require.NoError(t, err)
	require.Len(t, sums, 1)
	require.Equal(t, "greeting", sums[0].Content)
	_, err = s.AddSummary(ctx, "", "c", memory.Summary{Level: 0, FromSeq: 1, ToSeq: 2, Content: "rerun"})
	require.ErrorIs(t, err, memory.ErrConflict, "the chain survives a restart")
}

func TestSecondOpenSaysTheDirectoryIsInUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	defer s.Close()
	_, err := Open(Config{Dir: dir})
	require.ErrorIs(t, err, berrors.ErrTimeout)
	require.ErrorContains(t, err, "another process (a running longmem serve?) holds it")
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	s := open(t, Config{})
	require.NoError(t, s.Close())
	_, err := s.CreateConversation(context.Background(), memory.Conversation{ID: "x"})
	require.Error(t, err)
	require.Error(t, s.Ping(context.Background()))
}

func TestIdempotencyKeyExpires(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	s := open(t, Config{IdempotencyTTL: time.Hour, Clock: clock})
	defer s.Close()
	_, err := s.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(t, err)
	opts := memory.AppendOptions{IdempotencyKey: "k", RequestHash: "h"}
	turn := []memory.Turn{{Role: memory.RoleUser, Content: "x"}}
	_, err = s.AppendTurns(ctx, "", "c", turn, opts)
	require.NoError(t, err)

	now.Add(int64(59 * time.Minute))
	got, err := s.AppendTurns(ctx, "", "c", turn, opts)
	require.NoError(t, err)
	require.EqualValues(t, 1, got[0].Seq, "still within the TTL")

	now.Add(int64(2 * time.Minute))
	got, err = s.AppendTurns(ctx, "", "c", turn, memory.AppendOptions{IdempotencyKey: "k", RequestHash: "other"})
	require.NoError(t, err, "an expired key is free again")
	require.EqualValues(t, 2, got[0].Seq)

	now.Add(int64(2 * time.Hour))
	s.purgeExpired()
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		require.Zero(t, tx.Bucket(bucketIdem).Bucket(convKey("", "c")).Stats().KeyN, "purge removed the stale record")
		return nil
	}))
}

// BenchmarkAppend measures durable appends (each acknowledged append is
// fsynced) with 1 and 16 concurrent writers, single turns and batches of 100.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct{ batch, writers int }{{1, 1}, {1, 16}, {100, 1}, {100, 16}} {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", bc.batch, bc.writers), func(b *testing.B) {
			s := open(b, Config{})
			defer s.Close()
			ctx := context.Background()
			for w := 0; w < bc.writers; w++ {
				_, err := s.CreateConversation(ctx, memory.Conversation{ID: fmt.Sprint("c", w)})
				require.NoError(b, err)
			}
			turns := make([]memory.Turn, bc.batch)
			for i := range turns {
				turns[i] = memory.Turn{Role: memory.RoleUser, Content: "The choir met in the old library tonight and the acoustics were wonderful.", Tokens: 14}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < bc.writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.AppendTurns(ctx, "", fmt.Sprint("c", w), turns, memory.AppendOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "turns/s")
		})
	}
}

func BenchmarkListTurns1000(b *testing.B) {
	s := open(b, Config{})
	defer s.Close()
	ctx := context.Background()
	_, err := s.CreateConversation(ctx, memory.Conversation{ID: "c"})
	require.NoError(b, err)
	turns := make([]memory.Turn, 1000)
	for i := range turns {
		turns[i] = memory.Turn{Role: memory.RoleUser, Content: "The choir met in the old library tonight and the acoustics were wonderful.", Tokens: 14}
	}
	_, err = s.AppendTurns(ctx, "", "c", turns, memory.AppendOptions{})
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Turns(ctx, "", "c", 0, 1000)
		if err != nil || len(got) != 1000 {
			b.Fatal(err, len(got))
		}
	}
}
