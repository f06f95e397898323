package retrieval_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIndexerRunIndexesNotifiedConversations(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", filler(rand.New(rand.NewPCG(1, 1)), 50))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.indexer.Run(ctx) }()

	r.indexer.Notify("", "c", 50)
	r.indexer.Notify("", "missing", 9) // an unknown conversation is not fatal
	require.Eventually(t, func() bool {
		wm, err := r.index.Watermark(context.Background(), "c")
		return err == nil && wm == 50
	}, 10*time.Second, 5*time.Millisecond, "the background loop indexes what it is told about")

	docs, err := r.index.Get(context.Background(), "c", []int64{7}, false)
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Positive(t, docs[0].LineTokens, "lines are counted at index time")
	require.Equal(t, r.tok.Count(retrieval.RecallLine(docs[0])), docs[0].LineTokens)

	cancel()
	require.NoError(t, <-done, "Run returns cleanly when its context ends")
}

func TestIndexerNotifyNeverBlocks(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 5000; i++ { // far more than the queue holds, with no Run
			r.indexer.Notify("", "c", int64(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang detector, not a speed limit
		t.Fatal("Notify blocked on a full queue with no Run draining it")
	}
	// What was queued is still served once Run starts: the conversation
	// gets indexed.
	r.fill(t, "c", []string{"kiwi mango", "papaya guava"})
	r.indexer.Notify("", "c", 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.indexer.Run(ctx) }()
	require.Eventually(t, func() bool {
		wm, err := r.index.Watermark(context.Background(), "c")
		return err == nil && wm == 2
	}, time.Minute, 5*time.Millisecond, "the queued notifications are drained and the conversation indexed")
}

func TestIndexerDropsForgottenAndDeleted(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	r.fill(t, "c", []string{"alpha bravo", "charlie delta", "echo foxtrot"})
	ctx := context.Background()
	wm, err := r.indexer.Sync(ctx, "", "c", 3)
	require.NoError(t, err)
	require.EqualValues(t, 3, wm)
	require.NoError(t, r.indexer.Forget(ctx, "", "c", 2))
	docs, err := r.index.Get(ctx, "c", []int64{1, 2, 3}, false)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.NoError(t, r.store.DeleteConversation(ctx, "", "c"))
	require.NoError(t, r.indexer.Drop(ctx, "", "c"))
	wm, err = r.index.Watermark(ctx, "c")
	require.NoError(t, err)
	require.Zero(t, wm)
	_, err = r.indexer.Sync(ctx, "", "c", 3)
	require.ErrorIs(t, err, memory.ErrNotFound, "syncing a deleted conversation says so")
}

// TestIndexerRecreatedConversation: a conversation deleted and created
// again with the same id by another node (this Indexer was not told) never
// recalls the old one's turns, even when the new one has more turns.
func TestIndexerRecreatedConversation(t *testing.T) {
	r := newRig(t, retrieval.AssemblerConfig{}, nil)
	ctx := context.Background()
	old := filler(rand.New(rand.NewPCG(3, 4)), 60)
	old[5] = "The safe's code is 4471 and it sits under the stairs."
	r.fill(t, "c", old)
	ask := func() string {
		out, err := r.asm.Assemble(ctx, retrieval.Request{ConversationID: "c", ExcludeRecent: true,
			Message: retrieval.Message{Content: "What is the safe's code?"}, BudgetTokens: 1500})
		require.NoError(t, err)
		return systemText(out)
	}
	require.Contains(t, ask(), "4471")
	// Another node deletes it and a new conversation of that id grows past
	// the old one's length; this node's index still holds the old docs.
	require.NoError(t, r.store.DeleteConversation(ctx, "", "c"))
	time.Sleep(2 * time.Millisecond) // a distinct CreatedAt
	r.fill(t, "c", filler(rand.New(rand.NewPCG(5, 6)), 90))
	require.NotContains(t, ask(), "4471", "no turn of the deleted conversation is recalled")
}
