// Package embeddedindex is the default retrieval.Index: exact BM25 and cosine
// search over in-process, per-conversation indexes bounded by an LRU.
//
// Nothing is persisted: the index is rebuilt from memory.Store. At start
// every conversation is unknown, and a conversation that the LRU evicts (past
// Config.MaxConversations, Config.MaxDocs or Config.MaxBytes) is simply
// forgotten; either way its Watermark is 0. The caller that indexes turns
// therefore compares Watermark with the turn it is about to upsert and, when
// the index is behind, first re-upserts the missing turns (Watermark, seq)
// from the store, in seq order. The index never invents the missing prefix.
//
// Each conversation is compact (see conversation): per doc its seq, length
// and liveness in dense arrays, a fixed 56-byte record, its text, and its
// terms in one byte arena (see appendTerms); an inverted index of
// immutable segments (term id → delta/varint-coded slots and frequencies)
// plus a small mutable tail; and, with an embedder, a
// chunked float32 matrix of dense vectors. Replaced and deleted docs become
// tombstones, skipped by searches, dropped from postings when segments
// merge, and compacted away once they outnumber the live docs. Vectors are
// kept as float32: Get returns them within the contract's 1e-5, which
// float16 or int8 codes would not.
//
// Lexical scores are BM25 (k1 = 1.2, b = 0.75) with
// IDF = ln(1 + (N - df + 0.5)/(df + 0.5)), where N, df and the average
// document length are over all docs of the conversation (MaxSeq filters hits,
// not statistics); a query term's weight multiplies its contribution, and
// terms with a weight ≤ 0 are ignored. Dense scores are cosine similarity,
// computed exactly whatever the vectors' norms; a zero vector (an Embedder's
// answer for a text with no known word) has no direction, so a doc with one
// is never a dense hit (Get still returns it) and a zero query yields no
// dense hits. A Query with Limit ≤ 0 yields no
// hits.
//
// An Index is safe for concurrent use: each conversation has its own
// RWMutex (searches of one conversation run in parallel), and the LRU is
// guarded by a separate mutex held only briefly.
package embeddedindex

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/longmem/longmem/retrieval"
)

// BM25 parameters.
const (
	k1 = 1.2
	b  = 0.75
)

// DefaultMaxConversations is Config.MaxConversations when it and
// Config.MaxBytes are 0.
const DefaultMaxConversations = 1024

// ErrClosed is returned by every method of an Index after Close.
var ErrClosed = errors.New("embeddedindex: index closed")

// Config bounds an Index's memory. The zero value works.
type Config struct {
	// MaxConversations is how many conversations the Index holds at most;
	// past it the least recently used one is evicted. 0 means
	// DefaultMaxConversations, or no bound when MaxBytes is set.
	MaxConversations int
	// MaxDocs, when > 0, bounds the docs held across all conversations:
	// past it the least recently used conversations are evicted. The
	// conversation being written is never evicted for it, so a single
	// conversation may hold more than MaxDocs on its own. 0 means no bound.
	MaxDocs int
	// MaxBytes, when > 0, bounds the heap the Index holds across all
	// conversations, as each conversation measures itself (Stats.Bytes):
	// past it the least recently used conversations are evicted whole. As
	// with MaxDocs, the conversation being written is never evicted for it.
	// 0 means no bound.
	MaxBytes int64
}

// Validate reports a negative bound.
func (c Config) Validate() error {
	if c.MaxConversations < 0 {
		return fmt.Errorf("embeddedindex: MaxConversations %d < 0", c.MaxConversations)
	}
	if c.MaxDocs < 0 {
		return fmt.Errorf("embeddedindex: MaxDocs %d < 0", c.MaxDocs)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("embeddedindex: MaxBytes %d < 0", c.MaxBytes)
	}
	return nil
}

// Stats describes what an Index holds.
type Stats struct {
	Conversations int   // conversations held
	Docs          int   // live docs across them
	Bytes         int64 // heap held across them, as each measures itself
	// Evictions counts the conversations evicted to keep within a bound
	// (MaxConversations, MaxDocs or MaxBytes) since New.
	Evictions int64
	// Rebuilds counts the conversations built up from empty since New: the
	// first upsert after a start, an eviction or a delete counts one.
	Rebuilds int64
}

// Index is the in-process retrieval.Index. Make one with New.
type Index struct {
	maxConvs int // 0: no bound
	maxDocs  int
	maxBytes int64
	scratch  sync.Pool // *scratch, per lexical search

	mu        sync.Mutex // guards the fields below and each conversation's elem, count and size
	convs     map[string]*conversation
	lru       list.List // of *conversation, most recently used first
	docs      int       // sum of the conversations' count
	bytes     int64     // sum of the conversations' size
	evictions int64
	rebuilds  int64
	closed    bool
}

var _ retrieval.Index = (*Index)(nil)

// New returns an empty Index bounded by cfg.
func New(cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxConversations == 0 && cfg.MaxBytes == 0 {
		cfg.MaxConversations = DefaultMaxConversations
	}
	return &Index{
		maxConvs: cfg.MaxConversations,
		maxDocs:  cfg.MaxDocs,
		maxBytes: cfg.MaxBytes,
		scratch:  sync.Pool{New: func() any { return new(scratch) }},
		convs:    map[string]*conversation{},
	}, nil
}

// Stats returns what the Index holds and has evicted.
func (i *Index) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return Stats{Conversations: len(i.convs), Docs: i.docs, Bytes: i.bytes, Evictions: i.evictions, Rebuilds: i.rebuilds}
}

// MaxBytes is the Index's byte bound (Config.MaxBytes; 0: none).
func (i *Index) MaxBytes() int64 { return i.maxBytes }

// Close forgets everything; later calls return ErrClosed. Closing twice is
// a no-op.
func (i *Index) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, c := range i.convs {
		c.evicted.Store(true)
	}
	i.convs = nil
	i.lru.Init()
	i.docs, i.bytes = 0, 0
	i.closed = true
	return nil
}

// lookup returns conv's index, moving it to the front of the LRU. When conv
// is unknown it returns nil, or a new empty index if create is set (evicting
// the least recently used conversation past the bound).
func (i *Index) lookup(conv string, create bool) (*conversation, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil, ErrClosed
	}
	if c := i.convs[conv]; c != nil {
		i.lru.MoveToFront(c.elem)
		return c, nil
	}
	if !create {
		return nil, nil
	}
	c := newConversation(conv)
	c.elem = i.lru.PushFront(c)
	i.convs[conv] = c
	i.rebuilds++
	for i.maxConvs > 0 && len(i.convs) > i.maxConvs {
		i.evictLocked(i.lru.Back().Value.(*conversation))
		i.evictions++
	}
	return c, nil
}

// evictLocked forgets c. i.mu is held.
func (i *Index) evictLocked(c *conversation) {
	c.evicted.Store(true)
	i.lru.Remove(c.elem)
	delete(i.convs, c.id)
	i.docs -= c.count
	i.bytes -= c.size
	c.count, c.size = 0, 0
}

// account adds delta docs to c's count, sets its size, and evicts least
// recently used conversations other than c while the docs exceed MaxDocs
// or the bytes MaxBytes.
func (i *Index) account(c *conversation, delta int, size int64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c.evicted.Load() || i.closed {
		return
	}
	c.count += delta
	i.docs += delta
	i.bytes += size - c.size
	c.size = size
	over := func() bool {
		return (i.maxDocs > 0 && i.docs > i.maxDocs) || (i.maxBytes > 0 && i.bytes > i.maxBytes)
	}
	for e := i.lru.Back(); e != nil && over(); {
		prev := e.Prev()
		if v := e.Value.(*conversation); v != c {
			i.evictLocked(v)
			i.evictions++
		}
		e = prev
	}
}

// write runs fn on conv's index under its write lock, creating it if needed,
// and accounts for the docs fn adds (or removes, if negative) and the
// conversation's new size.
func (i *Index) write(conv string, create bool, fn func(c *conversation) (int, error)) error {
	for {
		c, err := i.lookup(conv, create)
		if err != nil || c == nil {
			return err
		}
		c.mu.Lock()
		if c.evicted.Load() {
			// Evicted between lookup and lock: start again with a fresh one.
			c.mu.Unlock()
			continue
		}
		delta, err := fn(c)
		size := c.bytes()
		c.mu.Unlock()
		i.account(c, delta, size)
		return err
	}
}

// read runs fn on conv's index under its read lock; fn is not called when
// conv is unknown.
func (i *Index) read(conv string, fn func(c *conversation) error) error {
	c, err := i.lookup(conv, false)
	if err != nil || c == nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.evicted.Load() {
		return nil
	}
	return fn(c)
}

// Upsert adds or replaces docs (by Seq). It validates every doc first and
// changes nothing when one is invalid: Terms must be strictly ascending by
// ID, and all dense vectors of a conversation must have one dimension.
func (i *Index) Upsert(ctx context.Context, conv string, docs []retrieval.Doc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	err := i.write(conv, true, func(c *conversation) (int, error) {
		if err := c.validate(docs); err != nil {
			return 0, err
		}
		before := c.live
		for _, d := range docs {
			c.upsert(d)
		}
		c.maybeCompact()
		return c.live - before, nil
	})
	if err != nil {
		return fmt.Errorf("embeddedindex: upsert %q: %w", conv, err)
	}
	return nil
}

// Delete removes the docs with the given seqs; unknown seqs are ignored.
// Removing a conversation's last doc resets it (Watermark 0).
func (i *Index) Delete(ctx context.Context, conv string, seqs []int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	return i.write(conv, false, func(c *conversation) (int, error) {
		before := c.live
		for _, seq := range seqs {
			if s, ok := c.bySeq[seq]; ok {
				c.kill(s)
				delete(c.bySeq, seq)
			}
		}
		if c.live == 0 {
			c.reset()
		} else {
			c.maybeCompact()
		}
		return c.live - before, nil
	})
}

// DeleteConversation forgets conv.
func (i *Index) DeleteConversation(ctx context.Context, conv string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return ErrClosed
	}
	if c := i.convs[conv]; c != nil {
		i.evictLocked(c)
	}
	return nil
}

// Watermark is the highest seq upserted into conv since it was created,
// emptied or forgotten; 0 when the Index holds nothing for conv.
func (i *Index) Watermark(ctx context.Context, conv string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var wm int64
	err := i.read(conv, func(c *conversation) error {
		wm = c.watermark
		return nil
	})
	return wm, err
}

// Get returns copies of the docs with the given seqs that exist, ascending
// by Seq; duplicate seqs yield one doc.
func (i *Index) Get(ctx context.Context, conv string, seqs []int64, vectors bool) ([]retrieval.Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []retrieval.Doc{}
	err := i.read(conv, func(c *conversation) error {
		sorted := slices.Clone(seqs)
		slices.Sort(sorted)
		sorted = slices.Compact(sorted)
		// The docs' terms are decoded into one array, one allocation
		// (amortised) for all of them; each doc gets its own full slice.
		slots := make([]int32, 0, len(sorted))
		size := 0
		for _, seq := range sorted {
			if s, ok := c.bySeq[seq]; ok {
				slots = append(slots, s)
				size += len(c.termsOf(s))
			}
		}
		terms := make([]retrieval.TermFreq, 0, size/3+len(slots)) // most terms take 3 to 5 bytes
		ends := make([]int, len(slots))
		out = make([]retrieval.Doc, len(slots))
		for k, s := range slots {
			out[k] = c.doc(s, vectors)
			terms = appendDecodedTerms(terms, c.termsOf(s))
			ends[k] = len(terms)
		}
		start := 0
		for k, end := range ends {
			if end > start {
				out[k].Terms = terms[start:end:end]
			}
			start = end
		}
		return nil
	})
	return out, err
}

// Search returns the best lexical and dense hits of q within conv; both
// lists are ordered by score descending, ties by seq ascending.
func (i *Index) Search(ctx context.Context, conv string, q retrieval.Query) (retrieval.Result, error) {
	var res retrieval.Result
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if q.Limit <= 0 || (len(q.Terms) == 0 && q.Dense == nil) {
		return res, nil
	}
	err := i.read(conv, func(c *conversation) error {
		if len(q.Terms) > 0 {
			sc := i.scratch.Get().(*scratch)
			res.Lexical = c.searchLexical(q, sc)
			i.scratch.Put(sc)
		}
		if q.Dense != nil {
			hits, err := c.searchDense(q)
			if err != nil {
				return err
			}
			res.Dense = hits
		}
		return nil
	})
	if err != nil {
		return retrieval.Result{}, fmt.Errorf("embeddedindex: search %q: %w", conv, err)
	}
	return res, nil
}
