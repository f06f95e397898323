package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

// TestSummaryCacheFollowsWrites reads summaries (filling the cache) between
// every kind of write and checks each read sees the write, that callers
// cannot alter the cache through what they get, and that reads racing
// writes never leave a stale entry behind.
func TestSummaryCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s := open(t, Config{})
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err := s.CreateConversation(ctx, memory.Conversation{ID: "c", Tenant: "t"})
	require.NoError(t, err)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var turns []memory.Turn
	for i := range 40 {
		turns = append(turns, memory.Turn{Role: memory.RoleUser, Content: fmt.Sprint("turn ", i), CreatedAt: at, Tokens: 3})
	}
	_, err = s.AppendTurns(ctx, "t", "c", turns, memory.AppendOptions{})
	require.NoError(t, err)
	sum := func(from, to int64, content string) memory.Summary {
		return memory.Summary{Level: 0, FromSeq: from, ToSeq: to, FromTime: at, ToTime: at, Content: content, Tokens: 2}
	}
	read := func() []memory.Summary {
		t.Helper()
		got, err := s.Summaries(ctx, "t", "c")
		require.NoError(t, err)
		return got
	}
	require.Empty(t, read())
	_, err = s.AddSummary(ctx, "t", "c", sum(1, 10, "first"))
	require.NoError(t, err)
	got := read()
	require.Len(t, got, 1)
	got[0].Content = "changed by a caller"
	require.Equal(t, "first", read()[0].Content, "callers get copies")

	require.NoError(t, s.DeleteTurn(ctx, "t", "c", 5))
	require.True(t, read()[0].Stale, "a forget marks the summary stale, and the read sees it")
	_, err = s.ReplaceSummary(ctx, "t", "c", sum(1, 10, "rebuilt"))
	require.NoError(t, err)
	require.Equal(t, "rebuilt", read()[0].Content)
	require.False(t, read()[0].Stale)

	// Readers racing a writer: after the writer is done, a read sees all.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = s.Summaries(ctx, "t", "c")
				}
			}
		})
	}
	for from := int64(11); from+4 <= 40; from += 5 {
		_, err = s.AddSummary(ctx, "t", "c", sum(from, from+4, fmt.Sprint("chunk ", from)))
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	require.Len(t, read(), 7, "every summary written is seen after the writes")

	require.NoError(t, s.DeleteConversation(ctx, "t", "c"))
	_, err = s.Summaries(ctx, "t", "c")
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.CreateConversation(ctx, memory.Conversation{ID: "c", Tenant: "t"})
	require.NoError(t, err)
	require.Empty(t, read(), "a conversation made again under the same id has no summaries")
}

func TestSummaryCacheBounds(t *testing.T) {
	c := newSumCache()
	many := make([]memory.Summary, maxCachedSummaries/2+1)
	_, tok, _ := c.get("a")
	c.put("a", tok, many)
	_, _, ok := c.get("a")
	require.True(t, ok)
	_, tok, _ = c.get("b")
	c.put("b", tok, many) // over the bound together: the cache starts afresh
	_, _, okA := c.get("a")
	_, _, okB := c.get("b")
	require.False(t, okA)
	require.True(t, okB)
	require.Equal(t, len(many), c.n)
	c.bump("b")
	require.Zero(t, c.n)
	_, tok, _ = c.get("huge")
	c.put("huge", tok, make([]memory.Summary, maxCachedSummaries+1))
	_, _, ok = c.get("huge")
	require.False(t, ok, "a conversation over the bound alone is not cached")
}
