package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory/embedded"
)

// stuckSummarizer blocks every call until release is closed (or the
// call's context ends), announcing each call on entered.
type stuckSummarizer struct {
	entered chan struct{}
	release chan struct{}
}

func (s stuckSummarizer) Summarize(ctx context.Context, in compaction.Input) (compaction.Output, error) {
	select {
	case s.entered <- struct{}{}:
	case <-ctx.Done():
		return compaction.Output{}, ctx.Err()
	}
	select {
	case <-s.release:
		return compaction.Output{Content: "Summary.", Producer: "stuck"}, nil
	case <-ctx.Done():
		return compaction.Output{}, ctx.Err()
	}
}

// TestCompactionNeverBlocksARequest runs a real worker in the background
// whose summarizer is stuck inside a run of the conversation: appending
// turns to it, assembling its context and listing its summaries still
// answer, before the summarizer is let go. No timing: a request that
// waited for the worker would wait forever (go test's -timeout reports it).
func TestCompactionNeverBlocksARequest(t *testing.T) {
	store, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	stuck := stuckSummarizer{entered: make(chan struct{}, 100), release: make(chan struct{})}
	// Turns appended now are folded at once (no quiet period to wait for).
	w, err := compaction.NewWorker(compaction.Config{KeepRecentTurns: 10, QuietAfter: time.Nanosecond, FlushAfter: time.Nanosecond},
		compaction.Deps{Store: store, Tokenizer: tok, Summarizer: stuck})
	require.NoError(t, err)
	srv, err := New(Config{}, recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Compactor: w}))
	require.NoError(t, err)
	e := &env{t: t, srv: srv, store: store}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- w.Run(ctx) }()
	released := false
	defer func() {
		if !released {
			close(stuck.release)
		}
		cancel()
		require.NoError(t, <-stopped)
	}()

	id := e.createConversation("c")
	var contents []string
	for i := range 30 {
		contents = append(contents, fmt.Sprintf("Turn %d: Ines told Tomas about the harbour she sketched on day %d.", i, i))
	}
	e.appendContents(id, contents...) // triggers the worker
	<-stuck.entered                   // which is now stuck summarising this conversation

	more := e.appendContents(id, "Ines: I adopted a beagle named Pepper.", "Tomas: What a lovely name!")
	require.Len(t, more, 2)
	require.EqualValues(t, 32, more[1].Seq)
	c := e.context(id, `{"message":{"role":"user","content":"What is the name of Ines's dog?"},"budget_tokens":800}`)
	require.NotEmpty(t, c.Messages)
	require.Empty(t, c.Report.Summaries, "no summary exists yet: the context goes without")
	require.Empty(t, e.summaries(id), "the summarizer is still stuck")
	require.Len(t, e.turnList(id), 32)

	close(stuck.release)
	released = true
}
