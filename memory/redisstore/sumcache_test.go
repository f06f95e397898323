package redisstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

func TestSumCacheVersionsAndBounds(t *testing.T) {
	c := newSumCache()
	one := []memory.Summary{{Content: "a"}}
	c.put("k", "id:1", one)
	got, ok := c.get("k", "id:1")
	require.True(t, ok)
	require.Equal(t, one, got)
	_, ok = c.get("k", "id:2")
	require.False(t, ok, "another version")
	_, ok = c.get("other", "id:1")
	require.False(t, ok, "another conversation")
	c.put("k", "", one)
	_, ok = c.get("k", "")
	require.False(t, ok, "no version: never cached")

	// Re-putting a conversation replaces its entry and its count.
	c.put("k", "id:2", make([]memory.Summary, 10))
	require.Len(t, c.entries, 1)
	require.Equal(t, 10, c.n)

	// Past maxCachedConversations the cache starts afresh.
	for i := range maxCachedConversations {
		c.put(fmt.Sprint("c", i), "v", one)
	}
	require.LessOrEqual(t, len(c.entries), maxCachedConversations)
	_, ok = c.get("k", "id:2")
	require.False(t, ok, "the reset dropped the older entries")
	_, ok = c.get(fmt.Sprint("c", maxCachedConversations-1), "v")
	require.True(t, ok, "the newest entry is kept")

	// And past maxCachedSummaries.
	c = newSumCache()
	c.put("a", "v", make([]memory.Summary, maxCachedSummaries-1))
	c.put("b", "v", make([]memory.Summary, 2))
	_, ok = c.get("a", "v")
	require.False(t, ok)
	_, ok = c.get("b", "v")
	require.True(t, ok)
	require.Equal(t, 2, c.n)
	c.put("huge", "v", make([]memory.Summary, maxCachedSummaries+1))
	_, ok = c.get("huge", "v")
	require.False(t, ok, "larger than the whole cache: not kept")
	require.LessOrEqual(t, c.n, maxCachedSummaries)
}
