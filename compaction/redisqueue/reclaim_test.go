package redisqueue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
)

// blockingSummarizer writes the first `allow` summaries with the extractive
// summarizer, then signals started and blocks until its context ends — a
// worker that dies mid-job.
type blockingSummarizer struct {
	inner   compaction.Summarizer
	allow   int32
	calls   atomic.Int32
	started chan struct{}
}

func (s *blockingSummarizer) Summarize(ctx context.Context, in compaction.Input) (compaction.Output, error) {
	if s.calls.Add(1) <= s.allow {
		return s.inner.Summarize(ctx, in)
	}
	close(s.started)
	<-ctx.Done()
	return compaction.Output{}, ctx.Err()
}

// conversation makes n turns in sessions of 20, a day apart, with facts.
func conversation(n int) []memory.Turn {
	at := time.Date(2023, 5, 8, 10, 0, 0, 0, time.UTC)
	names := []string{"Oscar", "Luna", "Priya", "Daniel"}
	places := []string{"Norway", "Boston", "Kyoto", "the Dolomites"}
	turns := make([]memory.Turn, n)
	for i := range turns {
		if i%20 == 0 && i > 0 {
			at = at.Add(24 * time.Hour)
		}
		at = at.Add(time.Minute)
		name, role := "Ines", memory.RoleUser
		if i%2 == 1 {
			name, role = "Tomas", memory.RoleAssistant
		}
		content := fmt.Sprintf("I met %s in %s on %d May. Thanks, that was fun!", names[i%4], places[(i/4)%4], 1+i%28)
		turns[i] = memory.Turn{Role: role, Name: name, Content: content, CreatedAt: at, Tokens: tokenizer().Count(content)}
	}
	return turns
}

type ran struct {
	task compaction.Task
	res  compaction.Result
	err  error
}

// TestKilledWorkerTaskIsReclaimed runs two workers on one Redis: A takes
// the task, writes two summaries and is killed mid-job (its context
// canceled before it acks); B reclaims the task after the idle timeout and
// completes it. Every range is covered exactly once.
func TestKilledWorkerTaskIsReclaimed(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.CreateConversation(ctx, memory.Conversation{ID: "c", Tenant: "acme"})
	require.NoError(t, err)
	turns, err := st.AppendTurns(ctx, "acme", "c", conversation(400), memory.AppendOptions{})
	require.NoError(t, err)
	var s memory.Store = st
	store := s.(compaction.Store)

	// Worker A: one consumer, dies on its third summary.
	blocking := &blockingSummarizer{inner: compaction.NewExtractive(tokenizer()), allow: 2, started: make(chan struct{})}
	qa := newQueue(t, rdb, "A")
	var aRuns atomic.Int32
	wa, err := compaction.NewWorker(compaction.Config{Concurrency: 1}, compaction.Deps{Store: store, Tokenizer: tokenizer(),
		Summarizer: blocking, Queue: qa, AfterRun: func(compaction.Task, compaction.Result, error) { aRuns.Add(1) }})
	require.NoError(t, err)
	ctxA, killA := context.WithCancel(ctx)
	doneA := make(chan error)
	go func() { doneA <- wa.Run(ctxA) }()
	wa.Trigger("acme", "c")
	<-blocking.started
	killA()
	require.NoError(t, <-doneA)
	require.Zero(t, aRuns.Load(), "A never finished the task")

	sums, err := st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.Len(t, sums, 2, "A wrote two summaries before it died")
	pending, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: qa.Stream(), Group: qa.Group(), Start: "-", End: "+", Count: 10}).Result()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "A", pending[0].Consumer, "A holds the task, unacknowledged")

	// Worker B reclaims and completes it.
	qb := newQueue(t, rdb, "B")
	doneB := make(chan ran, 4)
	wb, err := compaction.NewWorker(compaction.Config{}, compaction.Deps{Store: store, Tokenizer: tokenizer(), Queue: qb,
		AfterRun: func(tk compaction.Task, r compaction.Result, err error) { doneB <- ran{tk, r, err} }})
	require.NoError(t, err)
	ctxB, stopB := context.WithCancel(ctx)
	stoppedB := make(chan error)
	go func() { stoppedB <- wb.Run(ctxB) }()
	r := <-doneB
	stopB()
	require.NoError(t, <-stoppedB)
	require.NoError(t, r.err)
	require.Equal(t, compaction.Task{Tenant: "acme", Conversation: "c"}, r.task)
	require.Zero(t, r.res.Conflicts)
	require.Len(t, doneB, 0, "the task ran once on B")

	sums, err = st.Summaries(ctx, "acme", "c")
	require.NoError(t, err)
	require.Len(t, sums, 2+len(r.res.Written), "A's summaries were kept, none written twice")
	var next int64 = 1
	level0 := 0
	for _, sm := range sums {
		if sm.Level != 0 {
			continue
		}
		require.Equal(t, next, sm.FromSeq, "level 0 is gapless and covers each turn once")
		next = sm.ToSeq + 1
		level0++
	}
	require.Equal(t, turns[len(turns)-compaction.DefaultKeepRecentTurns-1].Seq, next-1, "every turn older than the window is covered")
	for l := 1; ; l++ {
		var chain []memory.Summary
		for _, sm := range sums {
			if sm.Level == l {
				chain = append(chain, sm)
			}
		}
		if len(chain) == 0 {
			break
		}
		next = 1
		for _, sm := range chain {
			require.Equal(t, next, sm.FromSeq, "level %d is gapless", l)
			next = sm.ToSeq + 1
		}
	}
	require.Zero(t, rdb.XLen(ctx, qb.Stream()).Val(), "the task is gone from the stream")
	p, err := rdb.XPending(ctx, qb.Stream(), qb.Group()).Result()
	require.NoError(t, err)
	require.Zero(t, p.Count, "nothing pending")
}
