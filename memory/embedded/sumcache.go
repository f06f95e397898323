package embedded

import (
	"slices"
	"sync"

	"github.com/longmem/longmem/memory"
)

// maxCachedConversations and maxCachedSummaries bound what is kept (past
// either the entries start afresh), and maxGenerations the conversations
// whose writes are counted (past it a new epoch starts, so no read begun
// before can fill the cache).
const (
	maxCachedConversations = 512
	maxCachedSummaries     = 1 << 18
	maxGenerations         = 1 << 20
)

// sumCache keeps the decoded summaries of recently read conversations.
// A context for a long conversation reads its thousands of summaries at
// every reply; decoding them was most of that cost. The store is the only
// writer of its file, so it knows every change: each summary write bumps
// the conversation's generation after it commits, and a read caches what
// it decoded only when no write bumped the generation meanwhile.
type sumCache struct {
	mu      sync.Mutex
	epoch   uint64
	n       int // summaries held
	gen     map[string]uint64
	entries map[string]sumEntry
}

// sumToken is what a read saw before it began: put caches only if nothing
// changed since.
type sumToken struct{ epoch, gen uint64 }

type sumEntry struct {
	gen  uint64
	sums []memory.Summary
}

func newSumCache() *sumCache {
	return &sumCache{gen: map[string]uint64{}, entries: map[string]sumEntry{}}
}

// get returns a copy of the cached summaries of key and true, or the
// token to pass to put after reading them from the file.
func (c *sumCache) get(key string) ([]memory.Summary, sumToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gen[key]
	if e, ok := c.entries[key]; ok && e.gen == g {
		return slices.Clone(e.sums), sumToken{}, true
	}
	return nil, sumToken{c.epoch, g}, false
}

// put caches sums as read after get returned tok, unless a write (or a
// new epoch) came since.
func (c *sumCache) put(key string, tok sumToken, sums []memory.Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != tok.epoch || c.gen[key] != tok.gen || len(sums) > maxCachedSummaries {
		return
	}
	if old, ok := c.entries[key]; ok {
		c.n -= len(old.sums)
		delete(c.entries, key)
	}
	if len(c.entries) >= maxCachedConversations || c.n+len(sums) > maxCachedSummaries {
		c.entries = map[string]sumEntry{}
		c.n = 0
	}
	c.entries[key] = sumEntry{gen: tok.gen, sums: slices.Clone(sums)}
	c.n += len(sums)
}

// bump records a committed change to key's summaries.
func (c *sumCache) bump(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.gen) >= maxGenerations {
		c.epoch++
		c.gen = map[string]uint64{}
		c.entries = map[string]sumEntry{}
		c.n = 0
	}
	c.gen[key]++
	if old, ok := c.entries[key]; ok {
		c.n -= len(old.sums)
		delete(c.entries, key)
	}
}
