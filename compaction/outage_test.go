package compaction

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/memory/redisstore/redistest"
)

// TestStorageOutagePausesCompaction kills the real redis-server under the
// worker: the run fails with memory.ErrUnavailable, and then no
// conversation is dispatched until one backoff has passed — the worker
// waits for the storage instead of failing every conversation in turn.
func TestStorageOutagePausesCompaction(t *testing.T) {
	ctx := context.Background()
	srv := redistest.StartProcess(t)
	st, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{srv.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ingest(t, st, "acme", "a", genConversation(3, 60))
	ingest(t, st, "acme", "b", genConversation(4, 60))

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q := NewMemQueue()
	reg := prometheus.NewRegistry()
	w := newWorker(t, st, Config{KeepRecentTurns: 10}, Deps{Queue: q, Registerer: reg, Clock: func() time.Time { return now }})

	srv.Signal(t, syscall.SIGKILL)
	_, err = w.run(ctx, Task{Tenant: "acme", Conversation: "a"}, false)
	require.ErrorIs(t, err, memory.ErrUnavailable)
	require.Equal(t, 1.0, runsWithOutcome(t, reg, "unavailable"))

	w.Trigger("acme", "b") // due now, but the storage is down
	w.dispatch(ctx)
	require.Zero(t, q.Len(), "nothing is dispatched during the pause")
	wait := w.backoff(1)
	require.GreaterOrEqual(t, w.untilNext(), wait, "the loop sleeps through the pause")

	now = now.Add(wait)
	w.dispatch(ctx)
	require.Equal(t, 2, q.Len(), "after the backoff both conversations are visited again")
	w.mu.Lock()
	require.Equal(t, 1, w.outages)
	w.mu.Unlock()
}

// runsWithOutcome reads longmem_compaction_runs_total{outcome} from reg.
func runsWithOutcome(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "longmem_compaction_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
