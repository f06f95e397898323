package redisstore

import (
	"crypto/rand"
	"slices"
	"sync"

	"github.com/longmem/longmem/memory"
)

// Bounds of the summary cache: past either, it starts afresh.
const (
	maxCachedConversations = 512
	maxCachedSummaries     = 1 << 18
)

// sumCache keeps the decoded summaries of recently read conversations,
// each under the version (sums:ver "id:n") the full read returned with
// them. The version lives in Redis and every summary write changes it in
// the same script, so an entry is used only while Redis still holds that
// version, whichever node wrote since. It is safe for concurrent use.
type sumCache struct {
	mu      sync.Mutex
	n       int // summaries held
	entries map[string]sumEntry
}

type sumEntry struct {
	ver  string
	sums []memory.Summary
}

func newSumCache() *sumCache { return &sumCache{entries: map[string]sumEntry{}} }

// get returns a copy of the summaries cached for key at version ver.
// The empty version (a conversation without one) is never cached.
func (c *sumCache) get(key, ver string) ([]memory.Summary, bool) {
	if ver == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.ver != ver {
		return nil, false
	}
	return slices.Clone(e.sums), true
}

// put caches a copy of sums, read at version ver, for key.
func (c *sumCache) put(key, ver string, sums []memory.Summary) {
	if ver == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.n -= len(old.sums)
		delete(c.entries, key)
	}
	if len(c.entries) >= maxCachedConversations || c.n+len(sums) > maxCachedSummaries {
		c.entries = map[string]sumEntry{}
		c.n = 0
	}
	if len(sums) > maxCachedSummaries {
		return
	}
	c.entries[key] = sumEntry{ver: ver, sums: slices.Clone(sums)}
	c.n += len(sums)
}

// versionToken is a fresh random token for a conversation's summary
// version (crypto/rand: 26 base32 characters, 130 bits).
func versionToken() string { return rand.Text() }
